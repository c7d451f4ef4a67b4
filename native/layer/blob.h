// What the layer pipelines share: the digests and sizes of a blob, the files behind a layer
// (an fd as given, or a path opened/created here), and the writing pipeline
// tar → diff_id → compressor → digest → fd.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "io/fd_io.h"
#include "util/gobj.h"
#include "util/sha256.h"

namespace oc {

// One layer blob: `diff_id`/`uncompressed_size` of its tar, `digest`/`size` as stored.
struct BlobDigests {
  std::string diff_id, digest;  // "sha256:<hex>"
  uint64_t size = 0, uncompressed_size = 0;
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

// Sets diffId, digest, size and uncompressedSize on `o`.
void SetBlobDigests(Napi::Env env, Napi::Object o, const BlobDigests &d);

// `{ fd }` or `{ path }` of a JS options object (`where` names it in TypeErrors).
void ParseFdOrPath(const Napi::Object &o, const std::string &where, int *fd, std::string *path);

// The compression named by `mediaType` of a JS options object: a TypeError when it is not a
// string, the JS form of CompressionOfMediaType's error when it names no layer type.
Compression ParseMediaType(const Napi::Object &o, const std::string &where);

// `progress` of a JS options object: a BigUint64Array whose element 0 a job publishes its input
// byte count into (FdSource::PublishSizeTo). `keep` holds the array alive until the job's
// worker is deleted (on the main thread); `slot` is null without one.
struct ProgressSlot {
  uint64_t *slot = nullptr;
  std::shared_ptr<Napi::Reference<Napi::Value>> keep;
};
ProgressSlot ParseProgressSlot(const Napi::Object &o, const std::string &where);

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

}  // namespace oc
