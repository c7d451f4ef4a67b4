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

  static Napi::Promise Run(Napi::Env env, const char *name, Work work, Done done) {
    auto *w = new PromiseWorker(env, name, std::move(work), std::move(done));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      work_(err_);
    } catch (const std::exception &e) {
      err_.Set(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      deferred_.Reject(ToJsError(env, err_).Value());
      return;
    }
    try {
      deferred_.Resolve(done_ ? done_(env) : env.Undefined());
    } catch (const Napi::Error &e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  PromiseWorker(Napi::Env env, const char *name, Work work, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), done_(std::move(done)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  ErrorInfo err_;
};

}  // namespace oc
