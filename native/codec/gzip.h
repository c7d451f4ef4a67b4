// gzip: a parallel block encoder that writes one gzip member, and a decoder for one or more
// concatenated members.
#pragma once

#include <memory>

#include "codec/gzip_workers.h"
#include "io/byte_stream.h"

namespace oc {

// One gzip member at `level` (libdeflate 1-12), compressed in blocks on `shared` workers, or on
// `threads` workers of its own when `shared` is null; at most 2 × threads + 1 blocks in flight.
std::unique_ptr<ByteSink> MakeGzipEncoder(int level, unsigned threads, ByteSink &out, GzipWorkers *shared);

std::unique_ptr<ByteSource> MakeGzipDecoder(ByteSource &in);

}  // namespace oc
