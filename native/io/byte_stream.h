// The two interfaces every byte pipeline stage implements: tar writer → encoder → fd, and
// fd → decoder → tar reader.
#pragma once

#include <cstddef>
#include <cstdint>

namespace oc {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void Write(const uint8_t *p, size_t n) = 0;
  // Flushes everything (compressor trailers included) to the next sink.
  virtual void Finish() {}
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; 0 means end of stream.
  virtual size_t Read(uint8_t *p, size_t n) = 0;
};

}  // namespace oc
