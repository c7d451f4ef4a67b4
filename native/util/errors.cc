#include "util/errors.h"

namespace oc {

ErrorInfo CurrentJsExceptionInfo() {
  try {
    throw;
  } catch (const Napi::Error &e) {
    ErrorInfo info;
    info.Set(e.Message());
    return info;
  } catch (...) {
    return CurrentExceptionInfo();
  }
}

Napi::Error ToJsError(Napi::Env env, const ErrorInfo &info) {
  Napi::Error e = Napi::Error::New(env, info.message);
  e.Set("code", Napi::String::New(env, info.code));
  if (!info.domain.empty()) e.Set("domain", Napi::String::New(env, info.domain));
  return e;
}

}  // namespace oc
