// The `none` codec: bytes pass through unchanged.
#pragma once

#include "io/byte_stream.h"

namespace oc {

class PlainSink : public ByteSink {
 public:
  explicit PlainSink(ByteSink &out) : out_(out) {}
  void Write(const uint8_t *p, size_t n) override { out_.Write(p, n); }
  void Finish() override { out_.Finish(); }

 private:
  ByteSink &out_;
};

class PlainSource : public ByteSource {
 public:
  explicit PlainSource(ByteSource &in) : in_(in) {}
  size_t Read(uint8_t *p, size_t n) override { return in_.Read(p, n); }

 private:
  ByteSource &in_;
};

}  // namespace oc
