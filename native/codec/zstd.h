// zstd: a multi-threaded encoder whose bytes do not depend on the worker count, and a decoder.
#pragma once

#include <zstd.h>

#include <memory>
#include <mutex>
#include <vector>

#include "io/byte_stream.h"

namespace oc {

// zstd contexts kept by the pool between layers (same level and worker count), with their
// buffers and worker threads. Not a shared ZSTD_threadPool: freeing a context whose frame failed
// midway does not wait for its jobs on a pool it does not own (zstd 1.5 ZSTDMT_freeCCtx).
struct ZstdContexts {
  struct Entry {
    ZSTD_CCtx *cctx;
    int level;
    unsigned threads;
  };
  std::mutex m;
  std::vector<Entry> idle;
  ~ZstdContexts();
};

// Frees a context and its `threads` workers (counted in ZstdWorkerThreads()).
void FreeZstdContext(ZSTD_CCtx *c, unsigned threads);
// libzstd worker threads alive now (in use, or idle in a ZstdContexts).
unsigned ZstdWorkerThreads();

// A zstd frame at `level` with up to `threads` workers, as many as the budget has free slots
// for and at least one, each holding a slot while the frame lasts; its context comes from and
// goes back to `shared` when given.
std::unique_ptr<ByteSink> MakeZstdEncoder(int level, unsigned threads, ByteSink &out, ZstdContexts *shared);

std::unique_ptr<ByteSource> MakeZstdDecoder(ByteSource &in);

}  // namespace oc
