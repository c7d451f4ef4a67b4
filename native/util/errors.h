// GError handling: errors captured on worker threads (util/error_info.h) become JS Errors here.
#pragma once

#include <napi.h>

#include "util/error_info.h"

namespace oc {

// The exception being handled, as an ErrorInfo (call only inside a catch block): a Failure or
// Napi::Error keeps its own message and code, bad_alloc is ENOMEM, a system_error carries its
// errno name, anything else its what() — so a catch-all never loses what went wrong.
ErrorInfo CurrentExceptionInfo();

Napi::Error ToJsError(Napi::Env env, const ErrorInfo &info);
[[noreturn]] void ThrowGError(Napi::Env env, GError *err);  // frees err

}  // namespace oc
