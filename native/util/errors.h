// Errors crossing into JavaScript: an ErrorInfo (util/error_info.h) becomes a JS Error with
// `.code` and `.domain`.
#pragma once

#include <napi.h>

#include "util/error_info.h"

namespace oc {

// CurrentExceptionInfo(), also keeping the message of a Napi::Error (a JS exception raised while
// building a result). Call only inside a catch block.
ErrorInfo CurrentJsExceptionInfo();

Napi::Error ToJsError(Napi::Env env, const ErrorInfo &info);

// Runs `f` on the JS thread; a Failure escaping it (a core check) is thrown as the JS Error it
// describes, with its code.
template <typename F>
auto RethrowAsJs(Napi::Env env, F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (const Failure &e) {
    throw ToJsError(env, e.info);
  }
}

}  // namespace oc
