#include "layer/blob.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/failure.h"

namespace oc {

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

namespace {
BlobDigests DigestsOf(const std::string &diff_id_hex, uint64_t uncompressed_size, const std::string &digest_hex,
                      uint64_t size) {
  BlobDigests d;
  d.diff_id = "sha256:" + diff_id_hex;
  d.uncompressed_size = uncompressed_size;
  d.digest = "sha256:" + digest_hex;
  d.size = size;
  return d;
}
}  // namespace

BlobDigests LayerWriter::Finish() {
  out_.Finish();
  return DigestsOf(out_.DiffId(), out_.size(), sink_.Digest(), sink_.size());
}

LayerInput::LayerInput(int fd, Compression c, GCancellable *cancellable, uint64_t *progress, TarReader::Sparse sparse)
    : raw_(fd, cancellable, progress), dec_(MakeDecompressor(c, raw_)), pre_(*dec_, raw_), tar_(pre_, cancellable, sparse) {}

BlobDigests LayerInput::Digests() { return DigestsOf(pre_.DiffId(), pre_.size(), raw_.Digest(), raw_.size()); }

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
