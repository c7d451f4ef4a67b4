// Promise-returning work on the libuv thread pool.
//
// Blocking libostree calls never run on the main thread: a binding method gathers its
// arguments into plain C++ values (holding GObject refs so nothing is freed under the
// worker), then queues `work` here. `work` runs on a pool thread and reports failure through
// the ErrorInfo; `done` runs back on the main thread and builds the resolved JS value.
#pragma once

#include <napi.h>

#include <functional>

#include "util/errors.h"

namespace oc {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void(ErrorInfo &)>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  using Settled = std::function<void()>;

  // `settled` (optional) runs on the main thread once the work is over, failed or not, before
  // the promise settles: bookkeeping such as a repo's transaction state.
  static Napi::Promise Run(Napi::Env env, const char *name, Work work, Done done, Settled settled = nullptr) {
    auto *w = new PromiseWorker(env, name, std::move(work), std::move(done));
    w->settled_ = std::move(settled);
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      work_(err_);
    } catch (...) {
      err_ = CurrentExceptionInfo();
    }
  }
  // Nothing may escape these: while a worker thread's environment terminates, settling a
  // promise throws, and node-addon-api's rethrow from its callback wrapper would std::terminate.
  void OnOK() override {
    try {
      Settle();
    } catch (...) {
    }
  }
  void OnError(const Napi::Error &e) override {
    try {
      if (settled_) settled_();
      deferred_.Reject(e.Value());
    } catch (...) {
    }
  }

  void Settle() {
    Napi::Env env = Env();
    if (settled_) settled_();
    if (err_) {
      deferred_.Reject(ToJsError(env, err_).Value());
      return;
    }
    try {
      deferred_.Resolve(done_ ? done_(env) : env.Undefined());
    } catch (...) {
      deferred_.Reject(ToJsError(env, CurrentExceptionInfo()).Value());
    }
  }

 private:
  PromiseWorker(Napi::Env env, const char *name, Work work, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), done_(std::move(done)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Settled settled_;
  ErrorInfo err_;
};

}  // namespace oc
