#include "codec/codec.h"

#include <algorithm>
#include <mutex>

#include "codec/gzip.h"
#include "codec/none.h"
#include "codec/zstd.h"

namespace oc {

struct CompressorPool::Impl {
  unsigned threads;
  std::mutex m;
  std::unique_ptr<GzipWorkers> gzip;  // started by the first gzip layer
  ZstdContexts zstd;
  GzipWorkers *Gzip() {
    std::lock_guard<std::mutex> lk(m);
    if (!gzip) gzip = std::make_unique<GzipWorkers>(threads);
    return gzip.get();
  }
};

CompressorPool::CompressorPool(unsigned threads) : impl_(std::make_unique<Impl>()) {
  impl_->threads = std::max(1u, threads);
}

CompressorPool::~CompressorPool() = default;

std::unique_ptr<ByteSink> MakeCompressor(Compression c, ByteSink &out, unsigned threads, int level, CompressorPool *pool) {
  threads = std::max(1u, threads);
  switch (c) {
    case Compression::None: return std::make_unique<PlainSink>(out);
    case Compression::Gzip:
      return MakeGzipEncoder(level ? level : 6, threads, out, pool ? pool->impl().Gzip() : nullptr);
    case Compression::GzipFast:
      return MakeGzipEncoder(level ? level : 1, threads, out, pool ? pool->impl().Gzip() : nullptr);
    case Compression::Zstd:
      return MakeZstdEncoder(level ? level : 3, threads, out, pool ? &pool->impl().zstd : nullptr);
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
