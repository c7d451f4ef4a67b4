// What the layer pipelines share: the digests and sizes of a blob, the files behind a layer
// (an fd as given, or a path opened/created here), the writing pipeline
// tar → diff_id → compressor → digest → fd and the reading one fd → digest → decompressor →
// diff_id → tar. Node-free; their JS side is layer/blob_js.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "io/fd_io.h"
#include "io/prefetch.h"
#include "tar/reader.h"
#include "util/gobj.h"
#include "util/sha256.h"

namespace oc {

// One layer blob: `diff_id`/`uncompressed_size` of its tar, `digest`/`size` as stored.
struct BlobDigests {
  std::string diff_id, digest;  // "sha256:<hex>"
  uint64_t size = 0, uncompressed_size = 0;
};

// A written layer: its digests, media type, and the commit it carries (full exports and commit
// layers; rewrites).
struct LayerResult : BlobDigests {
  std::string commit, media_type;
};

// The uncompressed side of an output layer: buffers small writes, hashes them (diff_id).
class LayerOutput : public ByteSink {
 public:
  explicit LayerOutput(ByteSink &next) : next_(next) { buf_.reserve(kBuf); }
  void Write(const uint8_t *p, size_t n) override;
  void Finish() override;
  std::string DiffId() { return hash_.Hex(); }
  uint64_t size() const { return size_; }

 private:
  static constexpr size_t kBuf = 256 * 1024;
  void Flush();
  ByteSink &next_;
  std::vector<uint8_t> buf_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

// The input of a layer: `fd` as given (not closed), or `path` opened for reading.
class InputFile {
 public:
  InputFile(int fd, const std::string &path);
  int fd() const { return fd_; }

 private:
  Fd owned_;
  int fd_;
};

// The output of a layer: `fd` as given (not closed), or `path` created. A path is written under
// a temporary name in its directory (".tmp-<name>-XXXXXX") and renamed over `path` by Keep(): a failed
// or cancelled job leaves what was at `path` untouched and no temporary file. A path that exists
// and is not a regular file (a FIFO, /dev/null, a terminal) is written in place.
class OutputFile {
 public:
  OutputFile(int fd, const std::string &path);
  ~OutputFile();
  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;
  int fd() const { return fd_; }
  // The job succeeded: renames the file into place. Fails with CANCELLED instead (nothing
  // renamed) when `cancellable` was cancelled, so a cancelled job never reports success.
  void Keep(GCancellable *cancellable = nullptr);

 private:
  Fd owned_;
  std::string path_, tmp_;  // tmp_ empty: written in place
  int fd_;
  bool keep_ = false;
};

// tar bytes → LayerOutput (diff_id) → compressor → FdSink (digest) → fd.
class LayerWriter {
 public:
  LayerWriter(int fd, Compression c, unsigned threads, int level, GCancellable *cancellable, CompressorPool *pool = nullptr,
              bool zlib_gzip = false);
  // Where the tar bytes go.
  ByteSink &tar() { return out_; }
  // Flushes the compressor; the digests of what was written.
  BlobDigests Finish();

 private:
  FdSink sink_;
  std::unique_ptr<ByteSink> comp_;
  LayerOutput out_;
};

// The reading side of every layer job: fd → FdSource (blob digest, bytes read published to
// `progress`) → decompressor → PrefetchSource (diff_id; decompresses ahead) → TarReader.
class LayerInput {
 public:
  LayerInput(int fd, Compression c, GCancellable *cancellable, uint64_t *progress = nullptr,
             TarReader::Sparse sparse = TarReader::Sparse::Refuse);
  TarReader &tar() { return tar_; }
  // Ends the input at once, from any thread: the reader may be waiting on a pipe whose writer
  // never closes it.
  void Stop() { raw_.Stop(); }
  // The blob's digests and sizes; valid once the tar reader has drained the stream.
  BlobDigests Digests();

 private:
  FdSource raw_;
  std::unique_ptr<ByteSource> dec_;
  PrefetchSource pre_;  // after raw_: stops it and joins its thread first
  TarReader tar_;
};

}  // namespace oc
