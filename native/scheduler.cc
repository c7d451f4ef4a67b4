#include "scheduler.h"

#include <glib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>

#include "util/error_info.h"

namespace oc {
namespace {

// Idle threads linger this long, so back-to-back jobs and blocks reuse them.
constexpr auto kWorkerIdle = std::chrono::seconds(2);
constexpr auto kJobThreadIdle = std::chrono::seconds(5);

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

unsigned Scheduler::TryAcquire(unsigned want) {
  std::lock_guard<std::mutex> lk(m_);
  unsigned free = concurrency_ > held_ ? concurrency_ - held_ : 0;
  unsigned got = std::min(want, free);
  held_ += got;
  if (got) work_cv_.notify_all();
  return got;
}

void Scheduler::Release(unsigned n) {
  std::lock_guard<std::mutex> lk(m_);
  held_ -= std::min(n, held_);
  // Queued tasks may have been waiting for the pool to grow back.
  while (workers_ < TargetWorkersLocked() && queue_.size() > idle_workers_ && StartWorkerLocked()) {
  }
}

bool Scheduler::StartWorkerLocked() {
  // On a job thread: an idle one is reused, and a worker's thread serves jobs after it retires.
  try {
    StartJob([this] { Worker(); });
  } catch (const std::system_error &) {
    return false;  // the tasks still run, on a worker or on whoever waits for them
  }
  workers_++;
  return true;
}

void Scheduler::Enqueue(std::shared_ptr<Task> t) {
  queue_.push_back(std::move(t));
  if (idle_workers_ >= queue_.size()) {
    work_cv_.notify_one();
    return;
  }
  if (workers_ < TargetWorkersLocked()) StartWorkerLocked();
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
  std::function<void()>().swap(t->fn);  // its captures (buffers) go now, not with the last ref
  lk.lock();
  t->done = true;
  t->failure = std::move(failure);
  if (t->group) t->group->Finished(*t);
  done_cv_.notify_all();
  return true;
}

void Scheduler::Worker() {
  std::unique_lock<std::mutex> lk(m_);
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

void Scheduler::StartJob(std::function<void()> fn) {
  std::lock_guard<std::mutex> lk(jobs_m_);
  // Every queued job must have an idle thread of its own: jobs may wait on each other.
  if (idle_job_threads_ > job_queue_.size()) {
    job_queue_.push_back(std::move(fn));
    jobs_cv_.notify_one();
    return;
  }
  std::thread(&Scheduler::JobThread, this, std::move(fn)).detach();  // throws system_error
  job_threads_++;
}

void Scheduler::JobThread(std::function<void()> fn) {
  for (;;) {
    fn();
    fn = nullptr;  // its captures are released before the thread idles
    std::unique_lock<std::mutex> lk(jobs_m_);
    idle_job_threads_++;
    bool woke = jobs_cv_.wait_for(lk, kJobThreadIdle, [&] { return !job_queue_.empty(); });
    idle_job_threads_--;
    if (!woke) {
      job_threads_--;
      return;
    }
    fn = std::move(job_queue_.front());
    job_queue_.pop_front();
  }
}

Scheduler::Stats Scheduler::GetStats() {
  Stats s{};
  {
    std::lock_guard<std::mutex> lk(m_);
    s.workers = workers_;
    s.idle_workers = idle_workers_;
    s.held_slots = held_;
    s.queued_tasks = static_cast<unsigned>(queue_.size());
  }
  std::lock_guard<std::mutex> lk(jobs_m_);
  s.job_threads = job_threads_;
  s.idle_job_threads = idle_job_threads_;
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
  s.Enqueue(t);
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
  std::unique_lock<std::mutex> lk(s.m_);
  while (pending_ > 0) {
    if (first_failure_) {
      DropQueuedLocked();  // the rest is moot: wait only for what has started
      if (pending_ == 0) break;
      s.done_cv_.wait(lk);
      continue;
    }
    if (!s.RunOneLocked(lk)) s.done_cv_.wait(lk);
  }
  if (first_failure_) throw Failure(*first_failure_);
}

void TaskGroup::Check() {
  std::lock_guard<std::mutex> lk(Scheduler::Get().m_);
  if (first_failure_) throw Failure(*first_failure_);
}

void TaskGroup::Cancel() {
  std::lock_guard<std::mutex> lk(Scheduler::Get().m_);
  DropQueuedLocked();
}

void TaskGroup::DropQueuedLocked() {
  Scheduler &s = Scheduler::Get();
  auto mine = [this](const std::shared_ptr<Task> &t) { return t->group == this; };
  for (auto &t : s.queue_) {
    if (!mine(t)) continue;
    t->done = true;  // without running: waiters must not wait for it
    std::function<void()>().swap(t->fn);
    pending_--;
  }
  s.queue_.erase(std::remove_if(s.queue_.begin(), s.queue_.end(), mine), s.queue_.end());
  s.done_cv_.notify_all();
}

void TaskGroup::Stop() {
  Scheduler &s = Scheduler::Get();
  std::unique_lock<std::mutex> lk(s.m_);
  DropQueuedLocked();
  s.done_cv_.wait(lk, [this] { return pending_ == 0; });
}

bool JobSet::Start(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lk(m_);
    running_++;
  }
  try {
    Scheduler::Get().StartJob([this, fn = std::move(fn)]() mutable {
      fn();
      fn = nullptr;  // its captures go before Join() returns
      std::lock_guard<std::mutex> lk(m_);
      running_--;
      cv_.notify_all();  // under the lock: Join() may destroy the set as soon as it is released
    });
    return true;
  } catch (const std::system_error &) {
    std::lock_guard<std::mutex> lk(m_);
    running_--;
    return false;
  }
}

void JobSet::Join() {
  std::unique_lock<std::mutex> lk(m_);
  cv_.wait(lk, [this] { return running_ == 0; });
}

TaskGroup::~TaskGroup() { Stop(); }

void TaskGroup::Finished(Task &t) {
  pending_--;
  if (t.failure && !first_failure_) first_failure_ = std::make_unique<ErrorInfo>(*t.failure);
}

}  // namespace oc
