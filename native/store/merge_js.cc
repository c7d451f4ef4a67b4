// writeMergeCommit() for JavaScript: options parsed, the merge (store/merge.h) run inside the
// caller's open transaction off the JS thread.
#include <memory>
#include <string>

#include "modules.h"
#include "repo/wrap_js.h"
#include "store/merge.h"
#include "util/cancellable.h"

namespace oc {

namespace {

// writeMergeCommit(repo, { base: string | null, layers: string[], metadata: a{sv}, timestamp },
//                  cancellable?) → Promise<string>; inside the caller's open transaction.
Napi::Value WriteMergeCommitJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto repo = std::make_shared<GObj<OstreeRepo>>(RepoFromJs(info[0]));
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "writeMergeCommit: options must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  auto spec = std::make_shared<MergeSpec>();
  auto base = OptChecksumArg(o.Get("base"), "writeMergeCommit: base");
  if (base) spec->base = *base;
  Napi::Value layers = o.Get("layers");
  if (!layers.IsArray()) throw Napi::TypeError::New(env, "writeMergeCommit: layers must be an array of commits");
  Napi::Array a = layers.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) spec->layers.push_back(ChecksumArg(a.Get(i), "writeMergeCommit: layers[]"));
  VarRef meta = OptVariantArg(o.Get("metadata"), G_VARIANT_TYPE_VARDICT, "writeMergeCommit: metadata");
  spec->metadata.reset(meta ? g_variant_ref(meta.get()) : nullptr);
  Napi::Value ts = o.Get("timestamp");
  spec->timestamp = SizeArg(ts, "writeMergeCommit: timestamp");
  auto cancellable = std::make_shared<GObj<GCancellable>>(Cancellable::From(info[2]));
  auto result = std::make_shared<std::string>();
  RepoJob job(env, repo->get(), "writeMergeCommit", RepoUse::CallerTxn);
  return RunRepoJob(
      env, "ostree-container:write-merge-commit", std::move(job),
      [repo, spec, cancellable, result] { *result = WriteMergeCommit(repo->get(), *spec, cancellable->get()); },
      [result](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *result); });
}

}  // namespace

void InitMerge(Napi::Env env, Napi::Object exports) {
  exports.Set("writeMergeCommit", Napi::Function::New(env, WriteMergeCommitJs, "writeMergeCommit"));
}

}  // namespace oc
