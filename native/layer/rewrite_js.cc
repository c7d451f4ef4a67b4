// rewriteDetachedMetadata() for JavaScript: options parsed, the rewrite (layer/rewrite.h) run
// off the JS thread.
#include <algorithm>
#include <memory>
#include <string>

#include "layer/blob_js.h"
#include "layer/rewrite.h"
#include "modules.h"
#include "scheduler.h"
#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/errors.h"

namespace oc {
namespace {

// { fd } or { path } under `key` of `o`.
void Target(const Napi::Object &o, const char *key, int *fd, std::string *path) {
  Napi::Value v = o.Get(key);
  std::string where = std::string("rewriteDetachedMetadata: ") + key;
  if (!v.IsObject()) throw Napi::TypeError::New(o.Env(), where + " needs an fd or a path");
  ParseFdOrPath(v.As<Napi::Object>(), where, fd, path);
}

// rewriteDetachedMetadata({ input: {fd}|{path}, inputMediaType, output: {fd}|{path}, compression, threads? },
//                         detached, cancellable?)
Napi::Value RewriteDetachedMetadataJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "rewriteDetachedMetadata: options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_shared<RewriteSpec>();
  Target(o, "input", &job->in_fd, &job->in_path);
  Target(o, "output", &job->out_fd, &job->out_path);
  RethrowAsJs(env, [&] {
    if (o.Get("inputMediaType").IsString())
      job->in_comp = CompressionOfMediaType(o.Get("inputMediaType").As<Napi::String>());
    if (o.Get("compression").IsString()) job->out_comp = ParseCompression(o.Get("compression").As<Napi::String>());
  });
  // zstd workers (held as slots of the budget); gzip blocks are scheduler tasks anyway.
  unsigned budget = Scheduler::Get().Concurrency();
  job->threads = std::min(budget, ThreadsArg(o.Get("threads"), "rewriteDetachedMetadata: threads", budget));
  if (IsUint8Array(info[1])) {
    Napi::Uint8Array a = info[1].As<Napi::Uint8Array>();
    job->detached.emplace(reinterpret_cast<const char *>(a.Data()), a.ByteLength());
  } else if (!info[1].IsNull() && !info[1].IsUndefined()) {
    throw Napi::TypeError::New(env, "rewriteDetachedMetadata: detached must be a Uint8Array or null");
  }
  auto cancellable = std::make_shared<GObj<GCancellable>>(Cancellable::From(info[2]));
  auto result = std::make_shared<LayerResult>();
  return PromiseWorker::Run(
      env, "ostree-container:rewrite-detached-metadata",
      [job, cancellable, result] { *result = RewriteDetachedMetadata(*job, cancellable->get()); },
      [result](Napi::Env env) -> Napi::Value { return LayerResultToJs(env, *result); }, nullptr, JobKind::Job);
}

}  // namespace

void InitLayerRewrite(Napi::Env env, Napi::Object exports) {
  exports.Set("rewriteDetachedMetadata", Napi::Function::New(env, RewriteDetachedMetadataJs, "rewriteDetachedMetadata"));
}

}  // namespace oc
