#include "util/async.h"

#include <memory>

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

// Main thread: runs `settled`, then settles the promise with `err` or what `done` builds.
// Nothing may escape: a throw here would reach N-API's callback wrapper while the environment
// may be shutting down.
void Finish(Napi::Env env, Job &job) {
  ErrorInfo err = std::move(job.err);
  if (job.settled) {
    try {
      job.settled();
    } catch (...) {
      ErrorInfo e = CurrentJsExceptionInfo();
      if (!err) err = e;
      else err.message += " (then, settling: " + e.message + ")";
    }
  }
  try {
    Napi::HandleScope scope(env);
    Napi::Value value = env.Undefined();
    if (!err && job.done) {
      try {
        value = job.done(env);
      } catch (...) {
        err = CurrentJsExceptionInfo();
      }
    }
    if (err) {
      try {
        value = ToJsError(env, err).Value();
      } catch (...) {
        // An exception was pending, or the error could not be built: the plainest one instead.
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
        value = Napi::Error::New(env, err.message).Value();
      }
    }
    // Once only: N-API frees the deferred in the call.
    if (err) job.deferred.Reject(value);
    else job.deferred.Resolve(value);
  } catch (...) {
    // The environment cannot take a value any more (it is shutting down).
  }
}

void Settle(napi_env raw_env, napi_value, void *, void *data) {
  Job *job = static_cast<Job *>(data);
  if (!raw_env) {
    // The environment is being torn down (a worker thread exiting): its promise cannot settle,
    // and the job's captures may hold references into that environment, which must not be
    // released now. They are left alone (a few bytes per job at a worker's exit).
    return;
  }
  Finish(Napi::Env(raw_env), *job);
  delete job;
}

}  // namespace

Napi::Promise PromiseWorker::Run(Napi::Env env, const char *name, Work work, Done done, Settled settled, JobKind kind) {
  auto *job = new Job{Napi::Promise::Deferred::New(env), std::move(work), std::move(done), std::move(settled), {}};
  Napi::Promise promise = job->deferred.Promise();
  // The job cannot be queued: it settles now, as rejected.
  auto abandon = [&](ErrorInfo why) {
    job->err = std::move(why);
    Finish(env, *job);
    delete job;
    return promise;
  };
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
  napi_value resource_name = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  napi_status st = napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  if (st == napi_ok)
    st = napi_create_threadsafe_function(env, nullptr, nullptr, resource_name, 0, 1, fin, dead, nullptr, Settle, &tsfn);
  if (st != napi_ok) {
    delete fin;
    ErrorInfo why;
    why.Set(std::string(name) + ": cannot create the thread-safe function that settles the job (napi status " +
            std::to_string(st) + ")");
    return abandon(why);
  }
  auto run = [job, tsfn, live] {
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
  };
  try {
    if (kind == JobKind::Job) Scheduler::Get().StartJob(std::move(run));
    else Scheduler::Get().QueueCall(std::move(run));
  } catch (...) {
    ErrorInfo why = CurrentExceptionInfo();
    napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    return abandon(why);
  }
  return promise;
}

}  // namespace oc
