// The data plane's one scheduler: a process-wide budget of CPU threads (`concurrency`), the
// short CPU tasks that share it (gzip blocks, small object writes), and the threads that run
// long jobs (a whole import or export, blocking on pipes). Nothing here uses libuv's pool, so
// a host program's fs, dns, zlib and crypto calls never wait behind our jobs.
//
// Budget: `Concurrency()` slots. The CPU pool has a worker per free slot, plus one; a thread that
// does CPU work beside them for a while (an export's second layer, an import's decompressor,
// zstd's own workers) holds slots for that time, and the pool shrinks by as many. A job's first thread
// holds none: long jobs may wait on each other through pipes, so they must never wait for a slot.
// Whoever waits for a task helps: it runs queued tasks on its own thread, so work goes on when
// every slot is taken.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "util/error_info.h"

namespace oc {

class TaskGroup;

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
  void Release(unsigned n);

  // Runs `fn` on a job thread (an idle one, or a new one). `fn` must not throw.
  void StartJob(std::function<void()> fn);

  // For tests and `concurrency()` callers: threads alive now.
  struct Stats {
    unsigned workers, idle_workers, job_threads, idle_job_threads, held_slots, queued_tasks;
  };
  Stats GetStats();

 private:
  friend class TaskGroup;
  Scheduler();
  void Enqueue(std::shared_ptr<Task> t);  // lock held
  bool RunOneLocked(std::unique_lock<std::mutex> &lk);
  void Worker();
  bool StartWorkerLocked();
  void JobThread(std::function<void()> fn);
  unsigned TargetWorkersLocked() const;

  std::mutex m_;
  std::condition_variable work_cv_;  // tasks queued, or the target shrank
  std::condition_variable done_cv_;  // a task finished
  std::deque<std::shared_ptr<Task>> queue_;
  unsigned concurrency_;
  unsigned held_ = 0;
  unsigned workers_ = 0, idle_workers_ = 0;

  std::mutex jobs_m_;
  std::condition_variable jobs_cv_;
  std::deque<std::function<void()>> job_queue_;
  unsigned job_threads_ = 0, idle_job_threads_ = 0;
};

// Slots held for the lifetime of the object (zero when none were free).
class SlotLease {
 public:
  explicit SlotLease(unsigned want) : n_(want ? Scheduler::Get().TryAcquire(want) : 0) {}
  ~SlotLease() {
    if (n_) Scheduler::Get().Release(n_);
  }
  SlotLease(const SlotLease &) = delete;
  SlotLease &operator=(const SlotLease &) = delete;
  unsigned count() const { return n_; }

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
  // Scheduler lock held:
  void Finished(Task &t);
  void DropQueuedLocked();

  size_t max_pending_;
  size_t pending_ = 0;  // queued or running
  std::unique_ptr<ErrorInfo> first_failure_;
};

// Job threads that one job starts beside its own and waits for before it ends.
class JobSet {
 public:
  JobSet() = default;
  ~JobSet() { Join(); }
  JobSet(const JobSet &) = delete;
  JobSet &operator=(const JobSet &) = delete;
  // False when no thread could be started (`fn` did not run). `fn` must not throw.
  bool Start(std::function<void()> fn);
  void Join();

 private:
  std::mutex m_;
  std::condition_variable cv_;
  unsigned running_ = 0;
};

}  // namespace oc
