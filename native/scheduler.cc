#include "scheduler.h"

#include <glib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <system_error>
#include <thread>

#include "util/failure.h"

namespace oc {
namespace {

// Idle threads linger this long, so back-to-back jobs and blocks reuse them.
constexpr auto kWorkerIdle = std::chrono::seconds(2);
constexpr auto kThreadIdle = std::chrono::seconds(5);

unsigned DefaultConcurrency() {
  // The CLI's knob, honoured by the library too (as sharp's VIPS_CONCURRENCY).
  if (const char *env = getenv("OSTREE_CONTAINER_CONCURRENCY")) {
    char *end = nullptr;
    long n = strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= static_cast<long>(Scheduler::kMaxConcurrency))
      return static_cast<unsigned>(n);
  }
  return std::max(1u, static_cast<unsigned>(g_get_num_processors()));  // honours CPU affinity
}

}  // namespace

Scheduler &Scheduler::Get() {
  static Scheduler *s = new Scheduler();  // leaked on purpose: see the header
  return *s;
}

Scheduler::Scheduler() : concurrency_(DefaultConcurrency()) {}

unsigned Scheduler::Concurrency() {
  std::lock_guard<std::mutex> lk(m_);
  return concurrency_;
}

void Scheduler::SetConcurrency(unsigned n) {
  std::lock_guard<std::mutex> lk(m_);
  concurrency_ = std::clamp(n, 1u, kMaxConcurrency);
  work_cv_.notify_all();  // surplus idle workers leave
}

unsigned Scheduler::TargetWorkersLocked() const {
  // One beyond the free slots: threads holding slots also block (file reads, writes, waits for
  // their own blocks), and a queued task should not wait for one of them to help.
  return (concurrency_ > held_ ? concurrency_ - held_ : 0) + 1;
}

// Calls mostly wait on the disk: as many as the budget, and never fewer than libuv's 4.
unsigned Scheduler::CallLimitLocked() const { return std::max(4u, concurrency_); }

unsigned Scheduler::CallLimit() {
  std::lock_guard<std::mutex> lk(m_);
  return CallLimitLocked();
}

unsigned Scheduler::TryAcquire(unsigned want) { return AcquireAtLeast(want, 0); }

unsigned Scheduler::AcquireAtLeast(unsigned want, unsigned min) {
  std::lock_guard<std::mutex> lk(m_);
  unsigned free = concurrency_ > held_ ? concurrency_ - held_ : 0;
  unsigned got = std::max(std::min(want, free), std::min(min, want));
  held_ += got;
  if (got) work_cv_.notify_all();  // surplus workers leave
  return got;
}

void Scheduler::Release(unsigned n) {
  unsigned spawn = 0;
  {
    std::lock_guard<std::mutex> lk(m_);
    held_ -= std::min(n, held_);
    // Queued tasks may have been waiting for the pool to grow back.
    while (workers_ < TargetWorkersLocked() && queue_.size() > idle_workers_ + spawn) {
      workers_++;
      spawn++;
    }
  }
  SpawnWorkers(spawn);
}

void Scheduler::Spawn(Item *item) {
  {
    std::lock_guard<std::mutex> lk(m_);
    if (idle_threads_ > handoff_.size()) {
      handoff_.push_back(std::move(*item));
      idle_cv_.notify_one();
      return;
    }
    threads_++;
  }
  // The new thread gets the item through a plain pointer: if it cannot start, nothing of the
  // item was moved or destroyed, and the caller has it back.
  auto *raw = new Item(std::move(*item));
  try {
    std::thread([this, raw] { ThreadMain(std::unique_ptr<Item>(raw)); }).detach();
  } catch (...) {
    int err = EAGAIN;
    try {
      throw;
    } catch (const std::system_error &e) {
      if (e.code().value()) err = e.code().value();
    } catch (const std::bad_alloc &) {
      err = ENOMEM;
    }
    *item = std::move(*raw);
    delete raw;
    unsigned running;
    {
      std::lock_guard<std::mutex> lk(m_);
      running = --threads_;
    }
    FailErrno("Cannot start a native thread (" + std::to_string(running) + " running)", err);
  }
}

void Scheduler::ThreadMain(std::unique_ptr<Item> first) {
  Item item = std::move(*first);
  first.reset();
  std::unique_lock<std::mutex> lk(m_);
  for (;;) {
    switch (item.role) {
      case Role::Job:
        lk.unlock();
        item.fn();
        item.fn = nullptr;  // its captures go now, outside the lock
        lk.lock();
        jobs_--;
        held_ -= std::min(item.slots, held_);
        item.slots = 0;
        if (item.set) {
          item.set->running_--;
          item.set = nullptr;
          sets_cv_.notify_all();  // under the lock: Join() may destroy the set once it has it
        }
        break;
      case Role::Call:
        RunCalls(lk, item);
        break;
      case Role::Worker:
        RunWorker(lk);
        break;
    }
    // The role ended under this lock: the thread takes the next one, a worker's if tasks wait
    // for one (the slots just released may be theirs), else it counts as idle, never as neither.
    if (queue_.size() > idle_workers_ && workers_ < TargetWorkersLocked()) {
      workers_++;
      item = Item{Role::Worker, nullptr};
      continue;
    }
    idle_threads_++;
    bool woke = idle_cv_.wait_for(lk, kThreadIdle, [&] { return !handoff_.empty(); });
    idle_threads_--;
    if (!woke) {
      threads_--;
      exited_++;
      return;
    }
    item = std::move(handoff_.front());
    handoff_.pop_front();
  }
}

void Scheduler::StartJob(std::function<void()> fn, unsigned slots, JobSet *set) {
  {
    std::lock_guard<std::mutex> lk(m_);
    if (jobs_ >= kMaxJobs)
      Fail("Too many native jobs at once: " + std::to_string(kMaxJobs) +
               " jobs that may wait on pipes or sockets (layer imports and exports, fd reads and writes, their "
               "helper threads) are running, the addon's limit; wait for some to finish",
           "JOB_LIMIT");
    jobs_++;
    if (set) set->running_++;
  }
  Item item{Role::Job, std::move(fn), slots, set};
  try {
    Spawn(&item);
  } catch (...) {
    {
      std::lock_guard<std::mutex> lk(m_);
      jobs_--;
      if (set) set->running_--;
    }
    throw;
  }
}

void Scheduler::QueueCall(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lk(m_);
    if (calls_ >= CallLimitLocked()) {
      call_queue_.push_back(std::move(fn));
      return;
    }
    calls_++;
  }
  Item item{Role::Call, std::move(fn)};
  try {
    Spawn(&item);
  } catch (...) {
    std::lock_guard<std::mutex> lk(m_);
    calls_--;
    if (calls_ == 0) throw;
    call_queue_.push_back(std::move(item.fn));  // a running call thread takes it
  }
}

void Scheduler::RunCalls(std::unique_lock<std::mutex> &lk, Item &item) {
  std::function<void()> fn = std::move(item.fn);
  for (;;) {
    lk.unlock();
    fn();
    fn = nullptr;
    lk.lock();
    if (call_queue_.empty() || calls_ > CallLimitLocked()) break;
    fn = std::move(call_queue_.front());
    call_queue_.pop_front();
  }
  calls_--;
}

void Scheduler::SpawnWorkers(unsigned n) {
  for (; n > 0; n--) {
    Item item{Role::Worker, nullptr};
    try {
      Spawn(&item);
    } catch (const Failure &) {
      // The tasks still run, on another worker or on whoever waits for them.
      std::lock_guard<std::mutex> lk(m_);
      workers_ -= n;
      return;
    }
  }
}

bool Scheduler::EnqueueLocked(std::shared_ptr<Task> t) {
  queue_.push_back(std::move(t));
  if (idle_workers_ >= queue_.size()) {
    work_cv_.notify_one();
    return false;
  }
  if (workers_ >= TargetWorkersLocked()) return false;
  workers_++;
  return true;
}

bool Scheduler::RunOneLocked(std::unique_lock<std::mutex> &lk) {
  if (queue_.empty()) return false;
  std::shared_ptr<Task> t = std::move(queue_.front());
  queue_.pop_front();
  lk.unlock();
  std::unique_ptr<ErrorInfo> failure;
  try {
    t->fn();
  } catch (...) {
    failure = std::make_unique<ErrorInfo>(CurrentExceptionInfo());
  }
  std::function<void()>().swap(t->fn);  // its captures (buffers) go now, outside the lock
  lk.lock();
  t->done = true;
  t->failure = std::move(failure);
  if (t->group) t->group->Finished(*t);
  done_cv_.notify_all();
  return true;
}

void Scheduler::RunWorker(std::unique_lock<std::mutex> &lk) {
  for (;;) {
    if (workers_ > TargetWorkersLocked()) break;
    if (RunOneLocked(lk)) continue;
    idle_workers_++;
    bool woke = work_cv_.wait_for(lk, kWorkerIdle, [&] { return !queue_.empty() || workers_ > TargetWorkersLocked(); });
    idle_workers_--;
    if (!woke) break;
  }
  workers_--;
}

Scheduler::Stats Scheduler::GetStats() {
  std::lock_guard<std::mutex> lk(m_);
  Stats s{};
  s.threads = threads_;
  s.idle_threads = idle_threads_;
  s.exited = exited_;
  s.workers = workers_;
  s.idle_workers = idle_workers_;
  s.held_slots = held_;
  s.queued_tasks = static_cast<unsigned>(queue_.size());
  s.jobs = jobs_;
  s.calls = calls_;
  s.queued_calls = static_cast<unsigned>(call_queue_.size());
  return s;
}

std::shared_ptr<Task> TaskGroup::Submit(std::function<void()> fn) {
  auto t = std::make_shared<Task>();
  t->fn = std::move(fn);
  t->group = this;
  Scheduler &s = Scheduler::Get();
  std::unique_lock<std::mutex> lk(s.m_);
  while (pending_ >= max_pending_) {
    if (!s.RunOneLocked(lk)) s.done_cv_.wait(lk);
  }
  pending_++;
  bool spawn = s.EnqueueLocked(t);
  lk.unlock();
  if (spawn) s.SpawnWorkers(1);
  return t;
}

bool TaskGroup::Done(const Task &t) {
  std::lock_guard<std::mutex> lk(Scheduler::Get().m_);
  return t.done;
}

void TaskGroup::Wait(const Task &t) {
  Scheduler &s = Scheduler::Get();
  std::unique_lock<std::mutex> lk(s.m_);
  while (!t.done) {
    if (!s.RunOneLocked(lk)) s.done_cv_.wait(lk);
  }
}

void TaskGroup::WaitAll() {
  Scheduler &s = Scheduler::Get();
  std::vector<std::function<void()>> dropped;
  std::unique_lock<std::mutex> lk(s.m_);
  while (pending_ > 0) {
    if (first_failure_) {
      DropQueuedLocked(dropped);  // the rest is moot: wait only for what has started
      if (pending_ == 0) break;
      s.done_cv_.wait(lk);
      continue;
    }
    if (!s.RunOneLocked(lk)) s.done_cv_.wait(lk);
  }
  std::unique_ptr<ErrorInfo> failure = first_failure_ ? std::make_unique<ErrorInfo>(*first_failure_) : nullptr;
  lk.unlock();
  dropped.clear();
  if (failure) throw Failure(*failure);
}

void TaskGroup::Check() {
  std::lock_guard<std::mutex> lk(Scheduler::Get().m_);
  if (first_failure_) throw Failure(*first_failure_);
}

void TaskGroup::Cancel() {
  std::vector<std::function<void()>> dropped;
  std::lock_guard<std::mutex> lk(Scheduler::Get().m_);
  DropQueuedLocked(dropped);
  // `dropped` goes after the lock: declared before it
}

void TaskGroup::DropQueuedLocked(std::vector<std::function<void()>> &dropped) {
  Scheduler &s = Scheduler::Get();
  auto mine = [this](const std::shared_ptr<Task> &t) { return t->group == this; };
  for (auto &t : s.queue_) {
    if (!mine(t)) continue;
    t->done = true;  // without running: waiters must not wait for it
    dropped.push_back(std::move(t->fn));
    t->fn = nullptr;
    pending_--;
  }
  s.queue_.erase(std::remove_if(s.queue_.begin(), s.queue_.end(), mine), s.queue_.end());
  s.done_cv_.notify_all();
}

void TaskGroup::Stop() {
  Scheduler &s = Scheduler::Get();
  std::vector<std::function<void()>> dropped;
  {
    std::unique_lock<std::mutex> lk(s.m_);
    DropQueuedLocked(dropped);
    s.done_cv_.wait(lk, [this] { return pending_ == 0; });
  }
}

bool JobSet::Start(std::function<void()> fn, SlotLease *lease) {
  try {
    Scheduler::Get().StartJob(std::move(fn), lease ? lease->count() : 0, this);
  } catch (const Failure &) {
    return false;
  }
  if (lease) lease->Transfer();
  return true;
}

void JobSet::Join() {
  Scheduler &s = Scheduler::Get();
  std::unique_lock<std::mutex> lk(s.m_);
  s.sets_cv_.wait(lk, [this] { return running_ == 0; });
}

TaskGroup::~TaskGroup() { Stop(); }

void TaskGroup::Finished(Task &t) {
  pending_--;
  if (t.failure && !first_failure_) first_failure_ = std::make_unique<ErrorInfo>(*t.failure);
}

}  // namespace oc
