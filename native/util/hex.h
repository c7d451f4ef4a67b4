// Lowercase hex of raw bytes (sha256 digests, checksums).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace oc {

inline std::string HexOf(const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

}  // namespace oc
