#include "util/errors.h"

#include <errno.h>

#include <new>
#include <system_error>

namespace oc {

ErrorInfo CurrentExceptionInfo() {
  ErrorInfo info;
  try {
    throw;
  } catch (const Failure &f) {
    info = f.info;
  } catch (const Napi::Error &e) {
    info.Set(e.Message());
  } catch (const std::bad_alloc &) {
    info.SetErrno("Out of memory in native code", ENOMEM);
  } catch (const std::system_error &e) {
    if (e.code().category() == std::generic_category() || e.code().category() == std::system_category())
      info.Set(std::string("Native system error (a thread could not start, or a system call failed): ") + e.what(),
               ErrnoName(e.code().value()).c_str());
    else
      info.Set(e.what());
  } catch (const std::exception &e) {
    info.Set(std::string("Native exception: ") + e.what());
  } catch (...) {
    info.Set("Native exception of unknown type");
  }
  return info;
}

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
