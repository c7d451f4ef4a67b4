// Byte pipelines for layer blobs.
//
// Output: tar bytes → LayerOutput (sha256 = diff_id, size, buffering) → compressor → FdSink
// (sha256 = blob digest, size) → fd. Input: fd → FdSource (blob digest) → decompressor →
// PrefetchSource (a thread that decompresses and hashes ahead, diff_id) → tar reader.
//
// gzip output is one gzip member (upstream reads layers with flate2's GzDecoder, which stops
// after the first member), compressed in parallel: 1 MiB blocks deflated by libdeflate as
// scheduler tasks, joined into one deflate stream (deflate_scan.h) and written in order with
// the CRCs combined. The bytes depend only on the input, block size and level — never on
// thread count or timing — so exports are reproducible. zstd always runs with nbWorkers ≥ 1
// and a fixed job size, whose output does not depend on the worker count.
#pragma once

#include <gio/gio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tar_common.h"

namespace oc {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void Write(const uint8_t *p, size_t n) = 0;
  // Flushes everything (compressor trailers included) to the next sink.
  virtual void Finish() {}
};

// Writes everything to `fd` (not owned), hashing and counting what it writes; cancellable
// while waiting on a pipe.
class FdSink : public ByteSink {
 public:
  FdSink(int fd, GCancellable *cancellable);
  void Write(const uint8_t *p, size_t n) override;
  std::string Digest() { return hash_.Hex(); }
  uint64_t size() const { return size_; }

 private:
  int fd_;
  GCancellable *cancellable_;
  size_t pipe_size_ = 0;  // non-zero for pipes and sockets
  Sha256 hash_;
  uint64_t size_ = 0;
};

enum class Compression { None, Gzip, GzipFast, Zstd };

// 'gzip' | 'gzip-fast' | 'zstd' | 'none'
Compression ParseCompression(const std::string &name);
const char *MediaTypeOf(Compression c);
// OCI/Docker layer media type → how to decompress it; unknown types fail.
Compression CompressionOfMediaType(const std::string &media_type);

// Compression resources shared by the layers of one export: the zstd contexts (multi-MiB
// buffers and their workers each) that finished layers hand on to the next; freed zstd buffers
// fragmented the heap (RSS grew by ~50 MiB over a 35-layer export). Bytes do not depend on it.
class CompressorPool {
 public:
  CompressorPool();
  ~CompressorPool();
  CompressorPool(const CompressorPool &) = delete;
  CompressorPool &operator=(const CompressorPool &) = delete;
  struct Impl;
  Impl &impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// `level` 0 = the codec's default (gzip 6, gzip-fast 1, zstd 3), else a libdeflate (1-12) or
// zstd (1-19) level. gzip blocks are tasks of the scheduler (scheduler.h); zstd asks for
// `threads` workers, held as slots of the budget while the stream lasts (at least one). With
// `pool`, zstd contexts are reused across the streams of one export.
std::unique_ptr<ByteSink> MakeCompressor(Compression c, ByteSink &out, unsigned threads, int level = 0,
                                         CompressorPool *pool = nullptr);

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

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; 0 means end of stream.
  virtual size_t Read(uint8_t *p, size_t n) = 0;
};

// Reads `fd` (not owned), hashing and counting (blob digest). Polls so that cancellation
// and Stop() are noticed even while a pipe writer is idle.
class FdSource : public ByteSource {
 public:
  FdSource(int fd, GCancellable *cancellable) : fd_(fd), cancellable_(cancellable) {}
  size_t Read(uint8_t *p, size_t n) override;
  std::string Digest() { return hash_.Hex(); }
  uint64_t size() const { return size_; }
  void Stop() { stop_ = true; }
  // Where the byte count is published for a reader on another thread (progress), or null.
  void PublishSizeTo(uint64_t *slot) { published_ = slot; }

 private:
  int fd_;
  GCancellable *cancellable_;
  Sha256 hash_;
  uint64_t size_ = 0;
  uint64_t *published_ = nullptr;
  std::atomic<bool> stop_{false};
};

std::unique_ptr<ByteSource> MakeDecompressor(Compression c, ByteSource &in);

// Runs `in` on a thread of its own (holding a slot of the budget), ahead of the consumer,
// hashing the bytes it yields (diff_id); inline when no slot is free. Bounded: at most a few
// MiB in flight.
class PrefetchSource : public ByteSource {
 public:
  PrefetchSource(ByteSource &in, FdSource &raw);
  ~PrefetchSource() override;
  size_t Read(uint8_t *p, size_t n) override;
  // Valid once Read() has returned 0.
  std::string DiffId() const { return diff_id_; }
  uint64_t size() const { return size_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string diff_id_;
  uint64_t size_ = 0;
};

}  // namespace oc
