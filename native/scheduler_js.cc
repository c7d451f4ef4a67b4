// JS face of the scheduler: `concurrency(n?)` and, for tests and diagnostics, `schedulerStats()`.
#include <napi.h>

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

Napi::Value Stats(const Napi::CallbackInfo &info) {
  Scheduler::Stats st = Scheduler::Get().GetStats();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("workers", st.workers);
  o.Set("idleWorkers", st.idle_workers);
  o.Set("jobThreads", st.job_threads);
  o.Set("idleJobThreads", st.idle_job_threads);
  o.Set("heldSlots", st.held_slots);
  o.Set("queuedTasks", st.queued_tasks);
  return o;
}

}  // namespace

void InitScheduler(Napi::Env env, Napi::Object exports) {
  exports.Set("concurrency", Napi::Function::New(env, Concurrency, "concurrency"));
  exports.Set("schedulerStats", Napi::Function::New(env, Stats, "schedulerStats"));
}

}  // namespace oc
