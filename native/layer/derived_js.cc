// importDerivedLayer() and normalizeLayerPath() for JavaScript: options parsed and checked on
// the JS thread, the import (layer/derived.h) run on a job thread, the result handed back.
#include <memory>
#include <string>

#include "layer/blob_js.h"
#include "layer/derived.h"
#include "modules.h"
#include "repo/repo_js.h"
#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/errors.h"
#include "util/failure.h"

namespace oc {

namespace {

bool OptBool(const Napi::Object &o, const char *key) { return o.Get(key).ToBoolean(); }

// importDerivedLayer(repo, { fd | path, mediaType, base?, selinux?, allowNonusr?, retainVar?,
//                    importerVersion, ref?, transaction?: 'own' | 'caller', timestamp?,
//                    progress?: BigUint64Array (element 0: input bytes read so far) }, cancellable?)
//   → Promise<{ commit, filtered: { key: count }, diffId, digest, size, uncompressedSize }>
Napi::Value ImportDerivedLayerJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto repo = std::make_shared<GObj<OstreeRepo>>(RepoFromJs(info[0]));
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "importDerivedLayer: options must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  auto spec = std::make_shared<DerivedSpec>();
  auto input = std::make_shared<std::pair<int, std::string>>(-1, "");
  ParseFdOrPath(o, "importDerivedLayer", &input->first, &input->second);
  spec->compression = ParseMediaType(o, "importDerivedLayer");
  Napi::Value base = o.Get("base");
  if (base.IsString()) spec->base = base.As<Napi::String>();
  else if (!base.IsUndefined() && !base.IsNull()) throw Napi::TypeError::New(env, "importDerivedLayer: base must be a string");
  if (!spec->base.empty() && !ostree_validate_checksum_string(spec->base.c_str(), nullptr))
    throw Napi::TypeError::New(env, "importDerivedLayer: base must be a commit checksum");
  spec->selinux = OptBool(o, "selinux");
  spec->filter.allow_nonusr = OptBool(o, "allowNonusr");
  spec->filter.remap_var = !OptBool(o, "retainVar");
  if (!o.Get("importerVersion").IsString())
    throw Napi::TypeError::New(env, "importDerivedLayer: importerVersion must be a string");
  spec->importer_version = o.Get("importerVersion").As<Napi::String>();
  Napi::Value ref = o.Get("ref");
  if (ref.IsString()) {
    spec->ref = ref.As<Napi::String>();
    if (!ostree_validate_rev(spec->ref.c_str(), nullptr))
      throw Napi::TypeError::New(env, "importDerivedLayer: invalid ref '" + spec->ref + "'");
  } else if (!ref.IsUndefined() && !ref.IsNull()) {
    throw Napi::TypeError::New(env, "importDerivedLayer: ref must be a string");
  }
  spec->own_transaction = ParseOwnTransaction(o, "importDerivedLayer");
  Napi::Value ts = o.Get("timestamp");
  if (ts.IsNumber()) {
    spec->timestamp = SizeArg(ts, "importDerivedLayer: timestamp");
  } else if (!ts.IsUndefined() && !ts.IsNull()) {
    throw Napi::TypeError::New(env, "importDerivedLayer: timestamp must be a number (seconds)");
  }
  ProgressSlot progress = ParseProgressSlot(o, "importDerivedLayer");
  spec->bytes_read = progress.slot;
  auto cancellable = std::make_shared<GObj<GCancellable>>(Cancellable::From(info[2]));
  auto result = std::make_shared<DerivedResult>();
  RepoJob job = spec->own_transaction
                    ? RepoJob(env, repo->get(), "importDerivedLayer (transaction 'own')", RepoUse::OwnTxn)
                    : RepoJob(env, repo->get(), "importDerivedLayer (transaction 'caller')", RepoUse::CallerTxn);
  return RunRepoJob(
      env, "ostree-container:import-derived-layer", std::move(job),
      [repo, spec, input, cancellable, result, keep = progress.keep] {
        InputFile file(input->first, input->second);  // a path is opened here: a FIFO may block
        *result = ImportDerivedLayer(repo->get(), file.fd(), *spec, cancellable->get());
      },
      [result](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("commit", result->commit);
        Napi::Object filtered = Napi::Object::New(env);
        for (const auto &[k, n] : result->filtered) filtered.Set(k, Napi::Number::New(env, n));
        o.Set("filtered", filtered);
        SetBlobDigests(env, o, *result);
        return o;
      },
      nullptr, JobKind::Job);
}

// normalizeLayerPath(path, { allowNonusr?, retainVar? }) → { path } | { filtered }: §3.2 for
// one path (tests and diagnostics).
Napi::Value NormalizeLayerPathJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "normalizeLayerPath: path must be a string");
  FilterConfig config;
  if (info[1].IsObject()) {
    config.allow_nonusr = OptBool(info[1].As<Napi::Object>(), "allowNonusr");
    config.remap_var = !OptBool(info[1].As<Napi::Object>(), "retainVar");
  }
  try {
    NormalizedPath n = NormalizePath(info[0].As<Napi::String>(), config);
    Napi::Object o = Napi::Object::New(env);
    o.Set(n.filtered ? "filtered" : "path", n.path);
    return o;
  } catch (const Failure &f) {
    throw ToJsError(env, f.info);
  }
}

}  // namespace

void InitLayerDerived(Napi::Env env, Napi::Object exports) {
  exports.Set("importDerivedLayer", Napi::Function::New(env, ImportDerivedLayerJs, "importDerivedLayer"));
  exports.Set("normalizeLayerPath", Napi::Function::New(env, NormalizeLayerPathJs, "normalizeLayerPath"));
}

}  // namespace oc
