#include "util/errors.h"

namespace oc {

Napi::Error ToJsError(Napi::Env env, const ErrorInfo &info) {
  Napi::Error e = Napi::Error::New(env, info.message);
  e.Set("code", Napi::String::New(env, info.code));
  if (!info.domain.empty()) e.Set("domain", Napi::String::New(env, info.domain));
  return e;
}

void ThrowGError(Napi::Env env, GError *err) {
  ErrorInfo info;
  info.Capture(err);
  throw ToJsError(env, info);
}

}  // namespace oc
