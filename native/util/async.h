// Promise-returning jobs on the scheduler's threads (scheduler.h), never on libuv's pool.
//
// Blocking libostree calls never run on the main thread: a binding method gathers its
// arguments into plain C++ values (holding GObject refs so nothing is freed under the job),
// then queues `work` here. `work` runs on a scheduler thread and throws a Failure when it fails;
// `done` runs back on the main thread and builds the resolved JS value. The result comes back
// through a thread-safe function, which also keeps the event loop alive meanwhile.
//
// Every job settles: when it cannot be queued (no thread-safe function, the job limit, no
// thread) its promise rejects at once, after `settled` ran; an exception in `settled` or `done`
// rejects it. Only a torn-down environment (a terminated worker thread) leaves a promise
// unsettled, since nothing can observe it any more.
#pragma once

#include <napi.h>

#include <functional>
#include <mutex>

#include "util/errors.h"

namespace oc {

// A thread-safe function is freed when its environment is torn down (a worker thread
// terminated), and may not be touched after that, not even released. Its finalizer clears
// `alive` under `m`; a thread holds `m` while it calls in.
struct TsfnLiveness {
  std::mutex m;
  bool alive = true;
};

// How a job runs (scheduler.h): a call (never waits on another job; queued on the bounded call
// threads) or a job (may wait on pipes or sockets other jobs feed; a thread of its own at once,
// up to the job limit).
enum class JobKind { Call, Job };

class PromiseWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  using Settled = std::function<void()>;

  // `settled` (optional) runs on the main thread once the work is over, failed or not, before
  // the promise settles: bookkeeping such as a repo's transaction state.
  static Napi::Promise Run(Napi::Env env, const char *name, Work work, Done done, Settled settled = nullptr,
                           JobKind kind = JobKind::Call);
};

}  // namespace oc
