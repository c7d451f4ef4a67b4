// Copies a commit-layer tar, replacing (or dropping) the `.commitmeta` entry after the commit.
#include "tar_rewrite.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>

#include "compress.h"
#include "tar_objpath.h"
#include "tar_reader.h"
#include "tar_writer.h"
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
  // results
  std::string commit, diff_id, digest;
  uint64_t size = 0, usize = 0;
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
  Fd in_owned, out_owned;
  int in_fd = job.in_fd, out_fd = job.out_fd;
  if (in_fd < 0) {
    in_owned.reset(::open(job.in_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in_owned) Fail("Opening " + job.in_path + ": " + g_strerror(errno));
    in_fd = in_owned.get();
  }
  if (out_fd < 0) {
    out_owned.reset(::open(job.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out_owned) Fail("Creating " + job.out_path + ": " + g_strerror(errno));
    out_fd = out_owned.get();
  }
  try {
    FdSource raw(in_fd, job.cancellable.get());
    std::unique_ptr<ByteSource> dec = MakeDecompressor(job.in_comp, raw);
    TarReader reader(*dec);
    FdSink sink(out_fd, job.cancellable.get());
    std::unique_ptr<ByteSink> comp = MakeCompressor(job.out_comp, sink, job.threads);
    LayerOutput out(*comp);
    TarWriter w(out);
    TarEntry e;
    for (;;) {
      if (!reader.Next(e)) Fail("Missing commit object");
      CopyEntry(reader, w, e);
      const std::string suffix = ".commit";
      if (e.type == '0' && e.path.size() > suffix.size() &&
          e.path.compare(e.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        job.commit = ParseObjectPath(e.path).checksum;
        break;
      }
    }
    if (job.has_detached) w.File(ObjectPath(job.commit, "commitmeta"), 0644, job.detached.data(), job.detached.size());
    if (!reader.Next(e)) Fail("Expected metadata object after commit");
    if (ParseObjectPath(e.path).kind != ObjKind::CommitMeta) CopyEntry(reader, w, e);
    while (reader.Next(e)) CopyEntry(reader, w, e);
    reader.Drain();
    w.Finish();
    out.Finish();
    job.diff_id = "sha256:" + out.DiffId();
    job.usize = out.size();
    job.digest = "sha256:" + sink.Digest();
    job.size = sink.size();
  } catch (...) {
    if (out_owned) ::unlink(job.out_path.c_str());
    throw;
  }
}

void Target(const Napi::Value &v, const char *what, int *fd, std::string *path) {
  Napi::Env env = v.Env();
  if (v.IsNumber()) {
    *fd = v.As<Napi::Number>().Int32Value();
    if (*fd < 0) throw Napi::TypeError::New(env, std::string(what) + " must be a file descriptor or a path");
  } else if (v.IsString()) {
    *path = v.As<Napi::String>();
  } else {
    throw Napi::TypeError::New(env, std::string(what) + " must be a file descriptor or a path");
  }
}

// rewriteDetachedMetadata({ input, inputMediaType, output, compression, threads? }, detached, cancellable?)
Napi::Value RewriteDetachedMetadata(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "rewriteDetachedMetadata: options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_shared<RewriteJob>();
  Target(o.Get("input"), "input", &job->in_fd, &job->in_path);
  Target(o.Get("output"), "output", &job->out_fd, &job->out_path);
  try {
    if (o.Get("inputMediaType").IsString())
      job->in_comp = CompressionOfMediaType(o.Get("inputMediaType").As<Napi::String>());
    if (o.Get("compression").IsString()) job->out_comp = ParseCompression(o.Get("compression").As<Napi::String>());
  } catch (const Failure &f) {
    throw ToJsError(env, f.info);
  }
  job->threads = std::max(1, static_cast<int>(g_get_num_processors()));
  if (o.Get("threads").IsNumber()) job->threads = std::max(1, o.Get("threads").As<Napi::Number>().Int32Value());
  if (info[1].IsTypedArray()) {
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
      [job](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("commit", job->commit);
        r.Set("diffId", job->diff_id);
        r.Set("digest", job->digest);
        r.Set("size", Napi::Number::New(env, static_cast<double>(job->size)));
        r.Set("uncompressedSize", Napi::Number::New(env, static_cast<double>(job->usize)));
        r.Set("mediaType", MediaTypeOf(job->out_comp));
        return r;
      });
}

}  // namespace

void InitTarRewrite(Napi::Env env, Napi::Object exports) {
  exports.Set("rewriteDetachedMetadata", Napi::Function::New(env, RewriteDetachedMetadata, "rewriteDetachedMetadata"));
}

}  // namespace oc
