// Picking a codec: the encoder or decoder for a Compression, and the compression resources the
// layers of one export share.
//
// gzip output is one gzip member (upstream reads layers with flate2's GzDecoder, which stops
// after the first member), compressed in parallel: 1 MiB blocks deflated by libdeflate on a
// small thread pool, joined into one deflate stream (deflate_scan.h) and written in order with
// the CRCs combined. The bytes depend only on the input, block size and level — never on
// thread count or timing — so exports are reproducible. zstd always runs with nbWorkers ≥ 1
// and a fixed job size, whose output does not depend on the worker count.
#pragma once

#include <memory>

#include "codec/media_type.h"
#include "io/byte_stream.h"

namespace oc {

// Compression resources shared by the layers of one export, however many run at once: one set
// of `threads` deflate workers (buffers recycled across layers), and the zstd contexts (multi-MiB
// buffers and their workers each) that finished layers hand on to the next. Without it every
// layer started its own threads and buffers: parallel layers × threads deflate workers, and the
// freed zstd buffers fragmented the heap (RSS grew by ~50 MiB over a 35-layer export). Bytes do
// not depend on it.
class CompressorPool {
 public:
  explicit CompressorPool(unsigned threads);
  ~CompressorPool();
  CompressorPool(const CompressorPool &) = delete;
  CompressorPool &operator=(const CompressorPool &) = delete;
  struct Impl;
  Impl &impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// `threads` = compression threads for this stream (≥ 1); `level` 0 = the codec's default
// (gzip 6, gzip-fast 1, zstd 3), else a libdeflate (1-12) or zstd (1-19) level. With `pool`, the
// threads and zstd contexts come from it; without, the stream has its own.
std::unique_ptr<ByteSink> MakeCompressor(Compression c, ByteSink &out, unsigned threads, int level = 0,
                                         CompressorPool *pool = nullptr);

std::unique_ptr<ByteSource> MakeDecompressor(Compression c, ByteSource &in);

}  // namespace oc
