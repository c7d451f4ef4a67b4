#include "codec/deflate_scan.h"

#include <algorithm>
#include <cstring>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "deflate_scan assumes a little-endian host");

namespace oc {
namespace {

// LSB-first bit reader (deflate's bit order) with a 64-bit buffer; reads past the end as zeros
// and reports the position so callers can check it stayed in bounds.
struct Bits {
  const uint8_t *p;
  size_t n;
  size_t byte = 0;
  uint64_t buf = 0;
  int cnt = 0;

  uint64_t Pos() const { return static_cast<uint64_t>(byte) * 8 - cnt; }
  void Fill() {
    if (byte + 8 <= n) {
      // Whole-word refill (little-endian): bits beyond the counted bytes are the true bits of
      // the next bytes, so OR-ing them in again later changes nothing.
      uint64_t w;
      memcpy(&w, p + byte, 8);
      buf |= w << cnt;
      byte += static_cast<size_t>((63 - cnt) >> 3);
      cnt |= 56;
      return;
    }
    while (cnt <= 56) {
      uint64_t b = byte < n ? p[byte] : 0;
      buf |= b << cnt;
      byte++;
      cnt += 8;
    }
  }
  uint32_t Peek(int k) {
    if (cnt < k) Fill();
    return static_cast<uint32_t>(buf & ((1ull << k) - 1));
  }
  void Drop(int k) {
    buf >>= k;
    cnt -= k;
  }
  uint32_t Get(int k) {
    uint32_t v = Peek(k);
    Drop(k);
    return v;
  }
  void Seek(uint64_t bit) {  // byte-aligned positions only
    byte = static_cast<size_t>(bit / 8);
    buf = 0;
    cnt = 0;
  }
};

// Canonical Huffman decoding table: entry = symbol << 4 | code length (0 = no code); 16-bit
// entries keep the (up to 2^15-entry) table small in cache.
struct Huff {
  std::vector<uint16_t> table;
  int maxlen = 0;

  bool Build(const uint8_t *lens, int nsym) {
    int count[16] = {0};
    maxlen = 0;
    for (int s = 0; s < nsym; s++) {
      if (lens[s] > 15) return false;
      count[lens[s]]++;
      maxlen = std::max<int>(maxlen, lens[s]);
    }
    if (maxlen == 0) maxlen = 1;  // an empty distance code: no match may use it
    int next[16] = {0};
    int code = 0;
    count[0] = 0;
    for (int bits = 1; bits <= 15; bits++) {
      code = (code + count[bits - 1]) << 1;
      next[bits] = code;
    }
    table.assign(size_t{1} << maxlen, 0);
    for (int s = 0; s < nsym; s++) {
      int len = lens[s];
      if (!len) continue;
      int c = next[len]++;
      if (c >= (1 << len)) return false;  // over-subscribed
      int rev = 0;
      for (int i = 0; i < len; i++) rev |= ((c >> i) & 1) << (len - 1 - i);
      for (size_t i = static_cast<size_t>(rev); i < table.size(); i += size_t{1} << len)
        table[i] = static_cast<uint16_t>(s << 4 | len);
    }
    return true;
  }

  int Decode(Bits &b) const {
    uint32_t e = table[b.Peek(maxlen)];
    if (!(e & 15)) return -1;
    b.Drop(static_cast<int>(e & 15));
    return static_cast<int>(e >> 4);
  }
};

const uint8_t kLenExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
const uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
const uint8_t kClOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

bool Symbols(Bits &b, const Huff &lit, const Huff &dist, uint64_t limit) {
  for (;;) {
    if (b.Pos() > limit) return false;
    int sym = lit.Decode(b);
    if (sym < 0 || sym > 285) return false;
    if (sym < 256) continue;
    if (sym == 256) return true;
    b.Get(kLenExtra[sym - 257]);
    int d = dist.Decode(b);
    if (d < 0 || d > 29) return false;
    b.Get(kDistExtra[d]);
  }
}

}  // namespace

bool ScanDeflate(const uint8_t *p, size_t n, uint64_t *final_bit, uint64_t *end_bit) {
  Bits b{p, n};
  const uint64_t limit = static_cast<uint64_t>(n) * 8;
  Huff fixed_lit, fixed_dist, lit, dist, cl;
  bool fixed_built = false;
  for (;;) {
    if (b.Pos() >= limit) return false;
    uint64_t hdr = b.Pos();
    uint32_t final = b.Get(1);
    uint32_t type = b.Get(2);
    if (type == 0) {
      b.Drop(b.cnt & 7);  // to the byte boundary
      uint32_t len = b.Get(16), nlen = b.Get(16);
      if (len != (~nlen & 0xffff)) return false;
      b.Seek(b.Pos() + static_cast<uint64_t>(len) * 8);
    } else if (type == 1) {
      if (!fixed_built) {
        uint8_t l[288], d[30];
        std::fill(l, l + 144, 8);
        std::fill(l + 144, l + 256, 9);
        std::fill(l + 256, l + 280, 7);
        std::fill(l + 280, l + 288, 8);
        std::fill(d, d + 30, 5);
        fixed_lit.Build(l, 288);
        fixed_dist.Build(d, 30);
        fixed_built = true;
      }
      if (!Symbols(b, fixed_lit, fixed_dist, limit)) return false;
    } else if (type == 2) {
      int hlit = static_cast<int>(b.Get(5)) + 257, hdist = static_cast<int>(b.Get(5)) + 1;
      int hclen = static_cast<int>(b.Get(4)) + 4;
      uint8_t cl_lens[19] = {0};
      for (int i = 0; i < hclen; i++) cl_lens[kClOrder[i]] = static_cast<uint8_t>(b.Get(3));
      if (!cl.Build(cl_lens, 19)) return false;
      uint8_t lens[288 + 32] = {0};  // the 5-bit counts allow up to 288 + 32
      int i = 0;
      while (i < hlit + hdist) {
        int sym = cl.Decode(b);
        if (sym < 0) return false;
        int rep = 0;
        uint8_t val = 0;
        if (sym < 16) {
          lens[i++] = static_cast<uint8_t>(sym);
          continue;
        } else if (sym == 16) {
          if (i == 0) return false;
          val = lens[i - 1];
          rep = 3 + static_cast<int>(b.Get(2));
        } else if (sym == 17) {
          rep = 3 + static_cast<int>(b.Get(3));
        } else {
          rep = 11 + static_cast<int>(b.Get(7));
        }
        if (i + rep > hlit + hdist) return false;
        std::fill(lens + i, lens + i + rep, val);
        i += rep;
      }
      if (!lit.Build(lens, hlit) || !dist.Build(lens + hlit, hdist)) return false;
      if (!Symbols(b, lit, dist, limit)) return false;
    } else {
      return false;
    }
    if (b.Pos() > limit) return false;
    if (final) {
      *final_bit = hdr;
      *end_bit = b.Pos();
      return true;
    }
  }
}

bool MakeNonFinal(std::vector<uint8_t> &d) {
  uint64_t final_bit, end_bit;
  if (!ScanDeflate(d.data(), d.size(), &final_bit, &end_bit)) return false;
  d[final_bit / 8] &= static_cast<uint8_t>(~(1u << (final_bit % 8)));
  // After the last code: BFINAL 0 + BTYPE 00 (three zero bits), zero padding to the byte
  // boundary, then LEN 0x0000 and NLEN 0xffff.
  size_t keep = static_cast<size_t>((end_bit + 3 + 7) / 8);
  d.resize(keep, 0);
  if (end_bit % 8) d[end_bit / 8] &= static_cast<uint8_t>((1u << (end_bit % 8)) - 1);
  for (size_t i = static_cast<size_t>((end_bit + 7) / 8); i < keep; i++) d[i] = 0;
  d.insert(d.end(), {0x00, 0x00, 0xff, 0xff});
  return true;
}

}  // namespace oc
