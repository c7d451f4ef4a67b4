// Picking a codec: the encoder or decoder for a Compression, and the compression resources the
// layers of one export share.
//
// gzip output is one gzip member (upstream reads layers with flate2's GzDecoder, which stops
// after the first member), compressed in parallel: 1 MiB blocks deflated by libdeflate as
// scheduler tasks, joined into one deflate stream (deflate_scan.h) and written in order with
// the CRCs combined. The bytes depend only on the input, block size and level — never on
// thread count or timing — so exports are reproducible. zstd always runs with nbWorkers ≥ 1
// and a fixed job size, whose output does not depend on the worker count.
#pragma once

#include <memory>

#include "codec/media_type.h"
#include "io/byte_stream.h"

namespace oc {

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
// `pool`, zstd contexts are reused across the streams of one export. `zlib_gzip`: gzip by zlib
// in one stream on the calling thread instead (level 1-9), byte-identical to upstream's.
std::unique_ptr<ByteSink> MakeCompressor(Compression c, ByteSink &out, unsigned threads, int level = 0,
                                         CompressorPool *pool = nullptr, bool zlib_gzip = false);

std::unique_ptr<ByteSource> MakeDecompressor(Compression c, ByteSource &in);

}  // namespace oc
