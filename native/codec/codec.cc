#include "codec/codec.h"

#include <algorithm>

#include "codec/gzip.h"
#include "codec/none.h"
#include "codec/zstd.h"

namespace oc {

struct CompressorPool::Impl {
  ZstdContexts zstd;
};

CompressorPool::CompressorPool() : impl_(std::make_unique<Impl>()) {}

CompressorPool::~CompressorPool() = default;

std::unique_ptr<ByteSink> MakeCompressor(Compression c, ByteSink &out, unsigned threads, int level, CompressorPool *pool,
                                         bool zlib_gzip) {
  auto gzip = zlib_gzip ? MakeZlibGzipEncoder : MakeGzipEncoder;
  switch (c) {
    case Compression::None: return std::make_unique<PlainSink>(out);
    case Compression::Gzip: return gzip(level ? level : 6, out);
    case Compression::GzipFast: return gzip(level ? level : 1, out);
    case Compression::Zstd:
      return MakeZstdEncoder(level ? level : 3, std::max(1u, threads), out, pool ? &pool->impl().zstd : nullptr);
  }
  return nullptr;
}

std::unique_ptr<ByteSource> MakeDecompressor(Compression c, ByteSource &in) {
  switch (c) {
    case Compression::None: return std::make_unique<PlainSource>(in);
    case Compression::Gzip:
    case Compression::GzipFast: return MakeGzipDecoder(in);
    case Compression::Zstd: return MakeZstdDecoder(in);
  }
  return nullptr;
}

}  // namespace oc
