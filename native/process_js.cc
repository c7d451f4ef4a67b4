// Process-wide facts for JS: the libostree loaded now (behaviour that depends on its release asks
// it, never the headers a prebuild was compiled with) and the one the build was compiled against.
#include <napi.h>
#include <ostree.h>

#include <algorithm>

#include "modules.h"
#include "util/args.h"

namespace oc {
namespace {

// ostreeCheckVersion(year, release): whether the libostree loaded now is at least that release.
Napi::Value CheckVersion(const Napi::CallbackInfo &info) {
  // Clamped: a year beyond guint is later than any release.
  const guint year = static_cast<guint>(std::min<uint64_t>(SizeArg(info[0], "ostreeCheckVersion: year"), G_MAXUINT));
  const guint release = static_cast<guint>(std::min<uint64_t>(SizeArg(info[1], "ostreeCheckVersion: release"), G_MAXUINT));
  return Napi::Boolean::New(info.Env(), ostree_check_version(year, release));
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("ostreeCheckVersion", Napi::Function::New(env, CheckVersion, "ostreeCheckVersion"));
  // The headers this build was compiled against (a prebuild may run with another libostree).
  Napi::Object v = Napi::Object::New(env);
  v.Set("version", Napi::String::New(env, OSTREE_VERSION_S));
  v.Set("year", Napi::Number::New(env, OSTREE_YEAR_VERSION));
  v.Set("release", Napi::Number::New(env, OSTREE_RELEASE_VERSION));
  exports.Set("libostreeBuilt", v);
}

}  // namespace oc
