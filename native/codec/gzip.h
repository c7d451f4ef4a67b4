// gzip: a parallel block encoder that writes one gzip member, and a decoder for one or more
// concatenated members.
#pragma once

#include <cstddef>
#include <memory>

#include "io/byte_stream.h"

namespace oc {

// One gzip member at `level` (libdeflate 1-12), compressed in 1 MiB blocks that are tasks of the
// scheduler; blocks in flight are bounded for the whole process (2 per slot of the budget).
std::unique_ptr<ByteSink> MakeGzipEncoder(int level, ByteSink &out);

// One gzip member written by zlib in one deflate stream on the calling thread, at `level` (1-9),
// with flate2's header: the bytes upstream ostree-ext writes when it uses the same zlib.
std::unique_ptr<ByteSink> MakeZlibGzipEncoder(int level, ByteSink &out);

std::unique_ptr<ByteSource> MakeGzipDecoder(ByteSource &in);

// Recycled 1 MiB blocks kept for the encoders alive now (none once the last one ended).
size_t GzipSpareBlocks();

}  // namespace oc
