// A ByteSource over the fuzzer's input that hands it out in small uneven pieces, as a pipe would.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "io/byte_stream.h"

namespace fuzz {

class MemSource : public oc::ByteSource {
 public:
  MemSource(const uint8_t *p, size_t n) : p_(p), n_(n) {}
  size_t Read(uint8_t *out, size_t n) override {
    size_t take = std::min({n, n_ - pos_, size_t{1} + (pos_ * 7919) % 3001});
    memcpy(out, p_ + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  const uint8_t *p_;
  size_t n_, pos_ = 0;
};

}  // namespace fuzz
