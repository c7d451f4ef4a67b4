#include "util/async.h"

#include "scheduler.h"

namespace oc {
namespace {

struct Job {
  Napi::Promise::Deferred deferred;
  PromiseWorker::Work work;
  PromiseWorker::Done done;
  PromiseWorker::Settled settled;
  ErrorInfo err;
};

// On the main thread once the work is over. Nothing may escape: a throw here would reach
// N-API's callback wrapper while the environment may be shutting down.
void Settle(napi_env raw_env, napi_value, void *, void *data) {
  Job *job = static_cast<Job *>(data);
  if (!raw_env) {
    // The environment is being torn down (a worker thread exiting): its promise cannot settle,
    // and the job's captures may hold references into that environment, which must not be
    // released now. They are left alone (a few bytes per job at a worker's exit).
    return;
  }
  Napi::Env env(raw_env);
  try {
    Napi::HandleScope scope(env);
    if (job->settled) job->settled();
    if (job->err) {
      job->deferred.Reject(ToJsError(env, job->err).Value());
    } else {
      try {
        job->deferred.Resolve(job->done ? job->done(env) : env.Undefined());
      } catch (...) {
        job->deferred.Reject(ToJsError(env, CurrentJsExceptionInfo()).Value());
      }
    }
  } catch (...) {
  }
  delete job;
}

}  // namespace

Napi::Promise PromiseWorker::Run(Napi::Env env, const char *name, Work work, Done done, Settled settled) {
  auto *job = new Job{Napi::Promise::Deferred::New(env), std::move(work), std::move(done), std::move(settled), {}};
  Napi::Promise promise = job->deferred.Promise();
  auto live = std::make_shared<TsfnLiveness>();
  auto *fin = new std::shared_ptr<TsfnLiveness>(live);
  napi_finalize dead = [](napi_env, void *data, void *) {
    auto *l = static_cast<std::shared_ptr<TsfnLiveness> *>(data);
    {
      std::lock_guard<std::mutex> lk((*l)->m);
      (*l)->alive = false;
    }
    delete l;
  };
  napi_threadsafe_function tsfn = nullptr;
  napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, Napi::String::New(env, name), 0, 1, fin, dead,
                                                   nullptr, Settle, &tsfn);
  if (st != napi_ok) {
    delete fin;
    delete job;
    NAPI_THROW_IF_FAILED(env, st, promise);
  }
  try {
    Scheduler::Get().StartJob([job, tsfn, live] {
      try {
        job->work();
      } catch (...) {
        job->err = CurrentExceptionInfo();
      }
      // From here on the main thread owns `job`; when the environment is already gone the job
      // stays (see Settle).
      std::lock_guard<std::mutex> lk(live->m);
      if (!live->alive) return;
      napi_status s = napi_call_threadsafe_function(tsfn, job, napi_tsfn_nonblocking);  // unbounded queue
      if (s != napi_closing) napi_release_threadsafe_function(tsfn, napi_tsfn_release);
    });
  } catch (...) {
    napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    ErrorInfo info = CurrentExceptionInfo();
    if (job->settled) job->settled();
    delete job;
    throw ToJsError(env, info);
  }
  return promise;
}

}  // namespace oc
