// Read-ahead: the decompressor runs ahead of the tar reader on a thread of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/byte_stream.h"
#include "io/fd_io.h"

namespace oc {

// Runs `in` on a thread of its own (holding a slot of the budget), ahead of the consumer,
// hashing the bytes it yields (diff_id); inline when no slot is free. Bounded: at most 1
// MiB in flight. `raw` (the fd under `in`) is stopped on destruction so
// the thread ends even while the pipe is idle.
class PrefetchSource : public ByteSource {
 public:
  PrefetchSource(ByteSource &in, FdSource &raw);
  ~PrefetchSource() override;
  size_t Read(uint8_t *p, size_t n) override;
  // Valid once Read() has returned 0.
  std::string DiffId() const { return diff_id_; }
  uint64_t size() const { return size_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string diff_id_;
  uint64_t size_ = 0;
};

}  // namespace oc
