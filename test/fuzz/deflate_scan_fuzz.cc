// libFuzzer harness: the deflate block scanner, checked against zlib. When zlib inflates the
// input as one complete raw deflate stream, the scanner must find its end at the same place,
// and MakeNonFinal's output followed by a final empty block must inflate to the same bytes.
#include <zlib.h>

#include <cstdint>
#include <vector>

#include "codec/deflate_scan.h"

namespace {

// Inflates a raw deflate stream; false unless it is complete. `used` = input bytes consumed.
bool Inflate(const uint8_t *p, size_t n, std::vector<uint8_t> &out, size_t &used) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) return false;
  zs.next_in = const_cast<uint8_t *>(p);
  zs.avail_in = static_cast<uInt>(n);
  uint8_t buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK && out.size() < (64u << 20)) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
    if (rc == Z_BUF_ERROR || (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)) break;
  }
  used = n - zs.avail_in;
  inflateEnd(&zs);
  return rc == Z_STREAM_END;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t final_bit = 0, end_bit = 0;
  bool ok = oc::ScanDeflate(data, size, &final_bit, &end_bit);
  if (ok && (final_bit >= end_bit || end_bit > uint64_t{size} * 8)) __builtin_trap();
  std::vector<uint8_t> plain;
  size_t used = 0;
  if (!Inflate(data, size, plain, used)) return 0;
  if (!ok) __builtin_trap();                        // zlib accepts what the scanner refused
  if ((end_bit + 7) / 8 != used) __builtin_trap();  // disagree on where the stream ends
  std::vector<uint8_t> joined(data, data + used);
  if (!oc::MakeNonFinal(joined)) __builtin_trap();
  const uint8_t final_empty[] = {0x03, 0x00};       // BFINAL 1, fixed Huffman, end-of-block
  joined.insert(joined.end(), final_empty, final_empty + 2);
  std::vector<uint8_t> again;
  size_t used2 = 0;
  if (!Inflate(joined.data(), joined.size(), again, used2) || again != plain) __builtin_trap();
  return 0;
}
