#include "layer/blob.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/args.h"
#include "util/errors.h"
#include "util/failure.h"

namespace oc {

void SetBlobDigests(Napi::Env env, Napi::Object o, const BlobDigests &d) {
  o.Set("diffId", d.diff_id);
  o.Set("digest", d.digest);
  o.Set("size", Napi::Number::New(env, static_cast<double>(d.size)));
  o.Set("uncompressedSize", Napi::Number::New(env, static_cast<double>(d.uncompressed_size)));
}

void ParseFdOrPath(const Napi::Object &o, const std::string &where, int *fd, std::string *path) {
  Napi::Value f = o.Get("fd");
  if (f.IsNumber()) {
    *fd = FdArg(f, (where + ".fd").c_str());
    return;
  }
  Napi::Value p = o.Get("path");
  if (!p.IsString() || p.As<Napi::String>().Utf8Value().empty())
    throw Napi::TypeError::New(o.Env(), where + " needs an fd or a path");
  *path = p.As<Napi::String>();
}

Compression ParseMediaType(const Napi::Object &o, const std::string &where) {
  Napi::Value mt = o.Get("mediaType");
  if (!mt.IsString()) throw Napi::TypeError::New(o.Env(), where + ": mediaType must be a string");
  try {
    return CompressionOfMediaType(mt.As<Napi::String>());
  } catch (const Failure &f) {
    throw ToJsError(o.Env(), f.info);
  }
}

ProgressSlot ParseProgressSlot(const Napi::Object &o, const std::string &where) {
  ProgressSlot p;
  Napi::Value v = o.Get("progress");
  if (v.IsUndefined() || v.IsNull()) return p;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array ||
      v.As<Napi::TypedArray>().ElementLength() < 1)
    throw Napi::TypeError::New(o.Env(), where + ": progress must be a BigUint64Array");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  p.slot = reinterpret_cast<uint64_t *>(static_cast<uint8_t *>(a.ArrayBuffer().Data()) + a.ByteOffset());
  p.keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(v));
  return p;
}

InputFile::InputFile(int fd, const std::string &path) : fd_(fd) {
  if (fd_ >= 0) return;
  owned_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!owned_) FailErrno("Opening " + path, errno);
  fd_ = owned_.get();
}

OutputFile::OutputFile(int fd, const std::string &path) : fd_(fd) {
  if (fd_ >= 0) return;
  path_ = path;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    owned_.reset(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  } else {
    size_t slash = path.rfind('/');
    size_t base = slash == std::string::npos ? 0 : slash + 1;
    tmp_ = path.substr(0, base) + ".tmp-" + path.substr(base) + "-XXXXXX";  // as src/oci/atomic.ts names them
    // g_mkstemp_full opens with O_CREAT | O_EXCL and `mode`, so the umask applies as with open().
    owned_.reset(g_mkstemp_full(&tmp_[0], O_WRONLY | O_CLOEXEC, 0644));
    if (!owned_) tmp_.clear();
  }
  if (!owned_) FailErrno("Creating " + path, errno);
  fd_ = owned_.get();
}

void OutputFile::Keep(GCancellable *cancellable) {
  GErr e;
  if (g_cancellable_set_error_if_cancelled(cancellable, e.out())) Fail(e);
  if (!tmp_.empty() && ::rename(tmp_.c_str(), path_.c_str()) != 0)
    FailErrno("Renaming the output into place at " + path_, errno);
  keep_ = true;
}

OutputFile::~OutputFile() {
  if (!tmp_.empty() && !keep_) ::unlink(tmp_.c_str());
}

LayerWriter::LayerWriter(int fd, Compression c, unsigned threads, int level, GCancellable *cancellable, CompressorPool *pool,
                         bool zlib_gzip)
    : sink_(fd, cancellable), comp_(MakeCompressor(c, sink_, threads, level, pool, zlib_gzip)), out_(*comp_) {}

BlobDigests LayerWriter::Finish() {
  out_.Finish();
  BlobDigests d;
  d.diff_id = "sha256:" + out_.DiffId();
  d.uncompressed_size = out_.size();
  d.digest = "sha256:" + sink_.Digest();
  d.size = sink_.size();
  return d;
}

void LayerOutput::Write(const uint8_t *p, size_t n) {
  if (n >= kBuf) {
    Flush();
    hash_.Update(p, n);
    size_ += n;
    next_.Write(p, n);
    return;
  }
  if (buf_.size() + n > kBuf) Flush();
  buf_.insert(buf_.end(), p, p + n);
}

void LayerOutput::Flush() {
  if (buf_.empty()) return;
  hash_.Update(buf_.data(), buf_.size());
  size_ += buf_.size();
  next_.Write(buf_.data(), buf_.size());
  buf_.clear();
}

void LayerOutput::Finish() {
  Flush();
  next_.Finish();
}

}  // namespace oc
