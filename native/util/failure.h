// Throwing an ErrorInfo through worker-thread code: Fail/FailErrno raise a Failure, WithContext
// builds upstream-style "context: cause" chains, CheckCancelled turns a cancelled GCancellable
// into its error.
#pragma once

#include <gio/gio.h>

#include <string>
#include <utility>

#include "util/error_info.h"

namespace oc {

[[noreturn]] inline void Fail(const std::string &msg, const char *code = "FAILED") {
  ErrorInfo i;
  i.Set(msg, code);
  throw Failure(std::move(i));
}
[[noreturn]] inline void Fail(GErr &e) { throw Failure(e.Take()); }
// "context: <strerror>" with the errno name ("ENOSPC") as code.
[[noreturn]] inline void FailErrno(const std::string &context, int err) {
  ErrorInfo i;
  i.SetErrno(context, err);
  throw Failure(std::move(i));
}

// Runs f(); a Failure escaping it gets "context: " prepended (upstream-style chain).
template <typename F>
auto WithContext(const std::string &context, F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (Failure &e) {
    e.info.Prefix(context);
    throw;
  }
}

inline void CheckCancelled(GCancellable *c) {
  GErr e;
  if (g_cancellable_set_error_if_cancelled(c, e.out())) Fail(e);
}

}  // namespace oc
