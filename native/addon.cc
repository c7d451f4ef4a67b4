// Module registration only: every concept lives in its own file.
#include <napi.h>
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("formatSize", Napi::Function::New(env, FormatSize, "formatSize"));
  oc::InitProcess(env, exports);
  oc::Cancellable::Init(env, exports);
  oc::InitRepo(env, exports);
  oc::InitLayerExport(env, exports);
  oc::InitLayerImport(env, exports);
  oc::InitLayerRewrite(env, exports);
  oc::InitSeqpacket(env, exports);
  oc::InitSysroot(env, exports);
  oc::InitLayerDerived(env, exports);
  oc::InitMerge(env, exports);
  oc::InitScheduler(env, exports);
  oc::InitLayerSpool(env, exports);
  oc::InitJournal(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ostree_container, Init)
