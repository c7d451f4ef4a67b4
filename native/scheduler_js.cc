// JS face of the scheduler: `concurrency(n?)` and, for tests and diagnostics, `schedulerStats()`:
// every thread the addon runs, by role.
#include <napi.h>

#include "codec/gzip.h"
#include "codec/zstd.h"
#include "io/fd_watch.h"
#include "modules.h"
#include "scheduler.h"
#include "util/args.h"

namespace oc {
namespace {

// concurrency() → the budget; concurrency(n) sets it (1 … 1024) and returns it.
Napi::Value Concurrency(const Napi::CallbackInfo &info) {
  Scheduler &s = Scheduler::Get();
  if (!info[0].IsUndefined()) s.SetConcurrency(static_cast<unsigned>(IntegerArg(info[0], "concurrency", 1, Scheduler::kMaxConcurrency)));
  return Napi::Number::New(info.Env(), s.Concurrency());
}

// schedulerStats() → { threads, idleThreads, exitedThreads, workers, idleWorkers, heldSlots,
//   queuedTasks, jobs, jobLimit, calls, callLimit, queuedCalls, zstdWorkers, watcherThreads,
//   watchedFds, gzipSpareBlocks }. `threads` are the scheduler's (calls, jobs, CPU workers, idle
//   ones); zstd's workers and the fd watcher are apart.
Napi::Value Stats(const Napi::CallbackInfo &info) {
  Scheduler &s = Scheduler::Get();
  Scheduler::Stats st = s.GetStats();
  FdWatcher::Stats w = FdWatcher::Get().GetStats();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", st.threads);
  o.Set("idleThreads", st.idle_threads);
  o.Set("exitedThreads", st.exited);
  o.Set("workers", st.workers);
  o.Set("idleWorkers", st.idle_workers);
  o.Set("heldSlots", st.held_slots);
  o.Set("queuedTasks", st.queued_tasks);
  o.Set("jobs", st.jobs);
  o.Set("jobLimit", Scheduler::kMaxJobs);
  o.Set("calls", st.calls);
  o.Set("callLimit", s.CallLimit());
  o.Set("queuedCalls", st.queued_calls);
  o.Set("zstdWorkers", ZstdWorkerThreads());
  o.Set("watcherThreads", w.threads);
  o.Set("watchedFds", w.watches);
  o.Set("gzipSpareBlocks", static_cast<double>(GzipSpareBlocks()));
  return o;
}

}  // namespace

void InitScheduler(Napi::Env env, Napi::Object exports) {
  exports.Set("concurrency", Napi::Function::New(env, Concurrency, "concurrency"));
  exports.Set("schedulerStats", Napi::Function::New(env, Stats, "schedulerStats"));
}

}  // namespace oc
