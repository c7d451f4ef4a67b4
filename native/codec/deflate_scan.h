// Finding where a raw deflate stream's final block starts and ends, so that independently
// compressed pieces (libdeflate has no streaming or flush API) can be joined into one stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace oc {

// Walks the blocks of the complete raw deflate stream `p[0..n)`: the bit offset of the final
// block's BFINAL bit and the bit offset just past its end-of-block code. False if malformed.
bool ScanDeflate(const uint8_t *p, size_t n, uint64_t *final_bit, uint64_t *end_bit);

// Rewrites a complete raw deflate stream to end like zlib's Z_SYNC_FLUSH: final bit cleared,
// then an empty stored block, so the result is byte-aligned and another stream may follow.
bool MakeNonFinal(std::vector<uint8_t> &deflate);

}  // namespace oc
