// importLayer() for JavaScript: options parsed and checked, the import run off the JS thread,
// the result handed back.
#include <memory>
#include <string>

#include "layer/blob_js.h"
#include "layer/import.h"
#include "modules.h"
#include "repo/repo_js.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/errors.h"

namespace oc {

namespace {

// importLayer(repo, { fd | path, mediaType, mode, remote?, finish?, transaction?, progress?: BigUint64Array },
//             cancellable?)
Napi::Value ImportLayerJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto repo = std::make_shared<GObj<OstreeRepo>>(RepoFromJs(info[0]));
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "importLayer: options must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  auto spec = std::make_shared<ImportSpec>();
  ParseFdOrPath(o, "importLayer", &spec->fd, &spec->path);
  spec->compression = ParseMediaType(o, "importLayer");
  Napi::Value mode = o.Get("mode");
  if (mode.IsString()) {
    std::string m = mode.As<Napi::String>();
    if (m == "commit") spec->mode = ImportSpec::Mode::Commit;
    else if (m == "objects") spec->mode = ImportSpec::Mode::Objects;
    else throw Napi::TypeError::New(env, "importLayer: mode must be 'commit' or 'objects'");
  }
  if (o.Get("remote").IsString()) spec->remote = o.Get("remote").As<Napi::String>();
  if (!spec->remote.empty() && spec->mode != ImportSpec::Mode::Commit)
    throw Napi::TypeError::New(env, "importLayer: remote verification needs commit mode");
  spec->finish = o.Get("finish").ToBoolean();
  spec->own_transaction = ParseOwnTransaction(o, "importLayer");
  ProgressSlot progress = ParseProgressSlot(o, "importLayer");
  spec->bytes_read = progress.slot;
  auto cancellable = std::make_shared<GObj<GCancellable>>(Cancellable::From(info[2]));
  auto result = std::make_shared<ImportResult>();
  RepoJob job = spec->own_transaction
                    ? RepoJob(env, repo->get(), "importLayer (transaction 'own')", RepoUse::OwnTxn)
                    : RepoJob(env, repo->get(), "importLayer (transaction 'caller')", RepoUse::CallerTxn);
  return RunRepoJob(
      env, "ostree-container:import-layer", std::move(job),
      [repo, spec, cancellable, result, keep = progress.keep] {
        *result = ImportLayer(repo->get(), *spec, cancellable->get());
      },
      [result](Napi::Env env) -> Napi::Value {
        const ImportResult &r = *result;
        Napi::Object o = Napi::Object::New(env);
        if (!r.commit.empty()) o.Set("commit", r.commit);
        o.Set("objectsWritten", Napi::Number::New(env, static_cast<double>(r.objects_written)));
        o.Set("objectsReused", Napi::Number::New(env, static_cast<double>(r.objects_reused)));
        o.Set("bytesWritten", Napi::Number::New(env, static_cast<double>(r.bytes_written)));
        if (r.has_verify_text) o.Set("verifyText", r.verify_text);
        SetBlobDigests(env, o, r);
        return o;
      },
      nullptr, JobKind::Job);
}

}  // namespace

void InitLayerImport(Napi::Env env, Napi::Object exports) {
  exports.Set("importLayer", Napi::Function::New(env, ImportLayerJs, "importLayer"));
  InitProgressCounter(env, exports);
}

}  // namespace oc
