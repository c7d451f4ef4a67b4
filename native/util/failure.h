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
// A GIO error of our own (domain G_IO_ERROR, as libostree's), e.g. G_IO_ERROR_INVALID_ARGUMENT.
[[noreturn]] inline void FailIo(GIOErrorEnum code, const std::string &msg) {
  ErrorInfo i;
  i.Capture(g_error_new_literal(G_IO_ERROR, code, msg.c_str()));
  throw Failure(std::move(i));
}
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
