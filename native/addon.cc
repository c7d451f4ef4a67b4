// Module registration only: every concept lives in its own file.
#include <napi.h>
#include <algorithm>
#include <ostree.h>

#include "modules.h"
#include "util/args.h"
#include "util/cancellable.h"

namespace {

// GLib's g_format_size: decimal (kB, MB) units with a no-break space before the unit.
Napi::Value FormatSize(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  guint64 n;
  if (info[0].IsBigInt()) {
    bool lossless;
    n = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  } else if (info[0].IsNumber()) {
    n = oc::SizeArg(info[0], "formatSize");
  } else {
    throw Napi::TypeError::New(env, "formatSize: expected a non-negative number or bigint");
  }
  char *s = g_format_size(n);
  Napi::String out = Napi::String::New(env, s);
  g_free(s);
  return out;
}

// ostreeCheckVersion(year, release): whether the libostree loaded now is at least that release.
// Behaviour that depends on libostree asks this, never the headers the prebuild was compiled with.
Napi::Value CheckVersion(const Napi::CallbackInfo &info) {
  // Clamped: a year beyond guint is later than any release.
  const guint year = static_cast<guint>(std::min<uint64_t>(oc::SizeArg(info[0], "ostreeCheckVersion: year"), G_MAXUINT));
  const guint release = static_cast<guint>(std::min<uint64_t>(oc::SizeArg(info[1], "ostreeCheckVersion: release"), G_MAXUINT));
  return Napi::Boolean::New(info.Env(), ostree_check_version(year, release));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("formatSize", Napi::Function::New(env, FormatSize, "formatSize"));
  exports.Set("ostreeCheckVersion", Napi::Function::New(env, CheckVersion, "ostreeCheckVersion"));
  // The headers this build was compiled against (a prebuild may run with another libostree).
  Napi::Object v = Napi::Object::New(env);
  v.Set("version", Napi::String::New(env, OSTREE_VERSION_S));
  v.Set("year", Napi::Number::New(env, OSTREE_YEAR_VERSION));
  v.Set("release", Napi::Number::New(env, OSTREE_RELEASE_VERSION));
  exports.Set("libostreeBuilt", v);
  oc::Cancellable::Init(env, exports);
  oc::InitRepo(env, exports);
  oc::InitLayerExport(env, exports);
  oc::InitLayerImport(env, exports);
  oc::InitSeqpacket(env, exports);
  oc::InitSysroot(env, exports);
  oc::InitLayerDerived(env, exports);
  oc::InitMerge(env, exports);
  oc::InitScheduler(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ostree_container, Init)
