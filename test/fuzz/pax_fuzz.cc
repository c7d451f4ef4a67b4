// libFuzzer harness: PAX extended-header records ("<len> key=value\n").
#include <cstdint>
#include <string>

#include "tar/reader.h"
#include "util/error_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string in(reinterpret_cast<const char *>(data), size);
  try {
    auto recs = oc::ParsePax(in, 0);
    // Every record takes at least "<digit> k=\n" bytes of the input.
    size_t used = 0;
    for (const auto &[k, v] : recs) used += k.size() + v.size() + 4;
    if (used > size) __builtin_trap();
  } catch (const oc::Failure &) {
  }
  return 0;
}
