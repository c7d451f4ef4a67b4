// Copies a commit-layer tar, replacing (or dropping) the `.commitmeta` entry after the commit.
#include "layer/rewrite.h"

#include <algorithm>
#include <memory>

#include "codec/codec.h"
#include "io/fd_io.h"
#include "layer/export.h"
#include "scheduler.h"
#include "tar/objpath.h"
#include "tar/reader.h"
#include "tar/writer.h"
#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/gobj.h"

namespace oc {
namespace {

struct RewriteJob {
  int in_fd = -1, out_fd = -1;
  std::string in_path, out_path;
  Compression in_comp = Compression::Gzip, out_comp = Compression::Gzip;
  bool has_detached = false;
  std::string detached;
  unsigned threads = 1;
  GObj<GCancellable> cancellable;
  LayerResult result;
};

// Entry copy: PAX records first (minus those re-derived), header bytes kept, data streamed.
void CopyEntry(TarReader &r, TarWriter &w, TarEntry &e) {
  std::vector<std::pair<std::string, std::string>> pax;
  for (auto &rec : e.pax)
    if (rec.first != "path" && rec.first != "linkpath" && rec.first != "size") pax.push_back(rec);
  if (!pax.empty()) w.Pax(pax);
  TarEntryHeader h;
  h.path = e.path;
  h.link = e.link;
  h.size = e.size;
  w.CopyHeader(e.raw, h);
  uint8_t buf[65536];
  for (;;) {
    size_t n = r.Read(buf, sizeof buf);
    if (n == 0) break;
    w.Data(buf, n);
  }
  w.Pad(e.size);
}

void Rewrite(RewriteJob &job) {
  InputFile input(job.in_fd, job.in_path);
  OutputFile output(job.out_fd, job.out_path);
  FdSource raw(input.fd(), job.cancellable.get());
  std::unique_ptr<ByteSource> dec = MakeDecompressor(job.in_comp, raw);
  TarReader reader(*dec, job.cancellable.get());
  LayerWriter out(output.fd(), job.out_comp, job.threads, 0, job.cancellable.get());
  TarWriter w(out.tar());
  LayerResult &r = job.result;
  TarEntry e;
  for (;;) {
    if (!reader.Next(e)) Fail("Missing commit object");
    CopyEntry(reader, w, e);
    const std::string suffix = ".commit";
    if (e.type == '0' && e.path.size() > suffix.size() &&
        e.path.compare(e.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      r.commit = ParseObjectPath(e.path).checksum;
      break;
    }
  }
  if (job.has_detached) w.File(ObjectPath(r.commit, "commitmeta"), 0644, job.detached.data(), job.detached.size());
  if (!reader.Next(e)) Fail("Expected metadata object after commit");
  if (ParseObjectPath(e.path).kind != ObjKind::CommitMeta) CopyEntry(reader, w, e);
  while (reader.Next(e)) CopyEntry(reader, w, e);
  reader.Drain();
  w.Finish();
  static_cast<BlobDigests &>(r) = out.Finish();
  r.media_type = MediaTypeOf(job.out_comp);
  output.Keep(job.cancellable.get());
}

// { fd } or { path } under `key` of `o`.
void Target(const Napi::Object &o, const char *key, int *fd, std::string *path) {
  Napi::Value v = o.Get(key);
  std::string where = std::string("rewriteDetachedMetadata: ") + key;
  if (!v.IsObject()) throw Napi::TypeError::New(o.Env(), where + " needs an fd or a path");
  ParseFdOrPath(v.As<Napi::Object>(), where, fd, path);
}

// rewriteDetachedMetadata({ input: {fd}|{path}, inputMediaType, output: {fd}|{path}, compression, threads? },
//                         detached, cancellable?)
Napi::Value RewriteDetachedMetadata(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "rewriteDetachedMetadata: options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_shared<RewriteJob>();
  Target(o, "input", &job->in_fd, &job->in_path);
  Target(o, "output", &job->out_fd, &job->out_path);
  try {
    if (o.Get("inputMediaType").IsString())
      job->in_comp = CompressionOfMediaType(o.Get("inputMediaType").As<Napi::String>());
    if (o.Get("compression").IsString()) job->out_comp = ParseCompression(o.Get("compression").As<Napi::String>());
  } catch (const Failure &f) {
    throw ToJsError(env, f.info);
  }
  // zstd workers (held as slots of the budget); gzip blocks are scheduler tasks anyway.
  unsigned budget = Scheduler::Get().Concurrency();
  job->threads = std::min(budget, ThreadsArg(o.Get("threads"), "rewriteDetachedMetadata: threads", budget));
  if (IsUint8Array(info[1])) {
    Napi::Uint8Array a = info[1].As<Napi::Uint8Array>();
    job->has_detached = true;
    job->detached.assign(reinterpret_cast<const char *>(a.Data()), a.ByteLength());
  } else if (!info[1].IsNull() && !info[1].IsUndefined()) {
    throw Napi::TypeError::New(env, "rewriteDetachedMetadata: detached must be a Uint8Array or null");
  }
  job->cancellable = Cancellable::From(info[2]);
  return PromiseWorker::Run(
      env, "ostree-container:rewrite-detached-metadata",
      [job](ErrorInfo &err) {
        try {
          Rewrite(*job);
        } catch (Failure &f) {
          err = f.info;
        }
      },
      [job](Napi::Env env) -> Napi::Value { return LayerResultToJs(env, job->result); });
}

}  // namespace

void InitTarRewrite(Napi::Env env, Napi::Object exports) {
  exports.Set("rewriteDetachedMetadata", Napi::Function::New(env, RewriteDetachedMetadata, "rewriteDetachedMetadata"));
}

}  // namespace oc
