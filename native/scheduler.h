// The data plane's one scheduler: a process-wide budget of CPU threads (`concurrency`), the
// short CPU tasks that share it (gzip blocks, small object writes), and the bounded set of
// threads everything runs on. Nothing here uses libuv's pool, so a host program's fs, dns, zlib
// and crypto calls never wait behind our jobs. Node-free.
//
// Budget: `Concurrency()` slots. The CPU pool has a worker per free slot, plus one; a thread that
// does CPU work beside them for a while (an export's second layer, an import's decompressor,
// zstd's own workers) holds slots for that time, and the pool shrinks by as many. Whoever waits
// for a task helps: it runs queued tasks on its own thread, so work goes on when every slot is
// taken.
//
// Threads, by role, each role bounded:
// - calls (QueueCall): repo and sysroot calls, which never wait on another job: at most
//   CallLimit() run at once, the rest wait in order;
// - jobs (StartJob): work that may wait on pipes or sockets other jobs feed (layer imports and
//   exports, fd reads and writes) and their helper threads: each starts at once on a thread of
//   its own (none may wait behind another: they may feed each other), at most kMaxJobs at once;
//   beyond, StartJob fails with a JOB_LIMIT error that names the limit. A job's thread holds no
//   slot: long jobs must never wait for one;
// - CPU workers: one per free slot, plus one.
// A thread whose role ends idles and takes the next role; it leaves after 5 s without one. A
// thread's role ends in the same step as it becomes idle, so the threads alive never exceed the
// roles' bounds. Threads are created, and task closures destroyed, outside the scheduler's lock.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "util/error_info.h"

namespace oc {

class TaskGroup;
class JobSet;

// One queued CPU task. Done/failed are read under the scheduler's lock (TaskGroup::Wait).
struct Task {
  std::function<void()> fn;
  TaskGroup *group = nullptr;
  bool done = false;
  std::unique_ptr<ErrorInfo> failure;  // set when fn threw
};

class Scheduler {
 public:
  // Process-wide and never destroyed: detached threads may still use it while the process exits.
  static Scheduler &Get();

  unsigned Concurrency();
  // 1 … kMaxConcurrency. Applies to tasks and slots from now on; running work keeps its threads.
  void SetConcurrency(unsigned n);
  static constexpr unsigned kMaxConcurrency = 1024;

  // Takes up to `want` free slots without waiting; returns how many it got.
  unsigned TryAcquire(unsigned want);
  // Up to `want` free slots, and at least `min` even when that goes beyond the budget (a zstd
  // frame needs one worker: its bytes would differ without); held slots count them either way.
  unsigned AcquireAtLeast(unsigned want, unsigned min);
  void Release(unsigned n);

  // Jobs that may wait on pipes or sockets: runs `fn` on a thread of its own now. Throws a
  // Failure when it cannot: JOB_LIMIT at kMaxJobs running, the errno when no thread starts.
  // `fn` must not throw. `slots` (held by the caller) are handed over: released as the job's
  // role ends, in the same step (on failure the caller still holds them); then, in that step
  // too, the job counts out of `set`.
  static constexpr unsigned kMaxJobs = 256;
  void StartJob(std::function<void()> fn, unsigned slots = 0, JobSet *set = nullptr);

  // Calls that never wait on another job: runs `fn` on one of at most CallLimit() threads,
  // queued in order while all are busy. Throws a Failure only when no call thread runs and none
  // can start. `fn` must not throw.
  void QueueCall(std::function<void()> fn);
  unsigned CallLimit();

  // For tests and diagnostics: threads by role now, and how many threads ended so far (a thread
  // that ended may linger in /proc/self/task for a moment).
  struct Stats {
    unsigned threads, idle_threads, exited;
    unsigned workers, idle_workers, held_slots, queued_tasks;
    unsigned jobs, calls, queued_calls;
  };
  Stats GetStats();

 private:
  friend class TaskGroup;
  friend class JobSet;
  enum class Role { Job, Call, Worker };
  struct Item {
    Role role;
    std::function<void()> fn;  // Job and Call
    unsigned slots = 0;        // Job: released when its role ends
    JobSet *set = nullptr;     // Job: counted out of it when its role ends
  };

  Scheduler();
  // A thread for `item`, whose role is already counted: an idle one, or a new one. Throws
  // (item back in `*item`) when no thread can start. Lock not held.
  void Spawn(Item *item);
  void ThreadMain(std::unique_ptr<Item> item);
  // Role bodies, entered and left with the lock held; they end their role's count.
  void RunCalls(std::unique_lock<std::mutex> &lk, Item &item);
  void RunWorker(std::unique_lock<std::mutex> &lk);
  void SpawnWorkers(unsigned n);  // lock not held; each already counted in workers_

  // Lock held:
  bool EnqueueLocked(std::shared_ptr<Task> t);  // true: a worker must be spawned (counted)
  bool RunOneLocked(std::unique_lock<std::mutex> &lk);
  unsigned TargetWorkersLocked() const;
  unsigned CallLimitLocked() const;

  std::mutex m_;
  std::condition_variable work_cv_;  // tasks queued, or the target shrank
  std::condition_variable done_cv_;  // a task finished
  std::condition_variable idle_cv_;  // an item was handed to the idle threads
  std::condition_variable sets_cv_;  // a JobSet's job ended
  std::deque<std::shared_ptr<Task>> queue_;
  std::deque<Item> handoff_;  // items waiting for an idle thread (no more than idle_)
  std::deque<std::function<void()>> call_queue_;
  unsigned concurrency_;
  unsigned held_ = 0;
  unsigned workers_ = 0, idle_workers_ = 0;
  unsigned jobs_ = 0, calls_ = 0;
  unsigned threads_ = 0, idle_threads_ = 0, exited_ = 0;
};

// Slots held for the lifetime of the object (zero when none were free, unless `min`).
class SlotLease {
 public:
  explicit SlotLease(unsigned want, unsigned min = 0)
      : n_(want ? Scheduler::Get().AcquireAtLeast(want, min) : 0) {}
  ~SlotLease() {
    if (n_) Scheduler::Get().Release(n_);
  }
  SlotLease(const SlotLease &) = delete;
  SlotLease &operator=(const SlotLease &) = delete;
  unsigned count() const { return n_; }
  // Hands the slots over (to Scheduler::StartJob): this lease no longer releases them.
  unsigned Transfer() { return std::exchange(n_, 0); }

 private:
  unsigned n_;
};

// The tasks of one stream (a layer's gzip blocks, an import's object writes). At most
// `max_pending` of them wait in the queue; Submit() helps beyond that. The destructor drops the
// group's queued tasks and waits for its running ones, so tasks may point into the owner.
class TaskGroup {
 public:
  explicit TaskGroup(size_t max_pending) : max_pending_(max_pending ? max_pending : 1) {}
  ~TaskGroup();
  TaskGroup(const TaskGroup &) = delete;
  TaskGroup &operator=(const TaskGroup &) = delete;

  std::shared_ptr<Task> Submit(std::function<void()> fn);
  bool Done(const Task &t);
  // Until `t` is done, running queued tasks meanwhile. Does not throw for t's failure: see t.failure.
  void Wait(const Task &t);
  // Until every task of the group is done; throws the first failure (as a Failure).
  void WaitAll();
  // Throws the first failure of a finished task, if any.
  void Check();
  // Drops the queued tasks (they count as done, without running); running ones finish.
  void Cancel();
  // Cancel(), then waits for the running tasks.
  void Stop();

 private:
  friend class Scheduler;
  // Scheduler lock held: marks the queued tasks done and hands their closures to `dropped`,
  // destroyed by the caller once the lock is released.
  void Finished(Task &t);
  void DropQueuedLocked(std::vector<std::function<void()>> &dropped);

  size_t max_pending_;
  size_t pending_ = 0;  // queued or running
  std::unique_ptr<ErrorInfo> first_failure_;
};

// Job threads that one job starts beside its own and waits for before it ends: once Join()
// returns, their roles have ended and their slots are back.
class JobSet {
 public:
  JobSet() = default;
  ~JobSet() { Join(); }
  JobSet(const JobSet &) = delete;
  JobSet &operator=(const JobSet &) = delete;
  // False when no thread could be started (`fn` did not run; `lease` keeps its slots). `fn` must
  // not throw. The slots of `lease`, if given, are the thread's until its role ends.
  bool Start(std::function<void()> fn, SlotLease *lease = nullptr);
  void Join();

 private:
  friend class Scheduler;
  unsigned running_ = 0;  // under the scheduler's lock
};

}  // namespace oc
