// GError handling: errors captured on worker threads (util/error_info.h) become JS Errors here.
#pragma once

#include <napi.h>

#include "util/error_info.h"

namespace oc {

Napi::Error ToJsError(Napi::Env env, const ErrorInfo &info);
[[noreturn]] void ThrowGError(Napi::Env env, GError *err);  // frees err

}  // namespace oc
