// libFuzzer harness: the streaming tar reader (headers, GNU long names, PAX, sizes, checksums)
// and object-path parsing of the entries an import would look at, over arbitrary bytes.
#include <cstdint>
#include <cstring>
#include <string>

#include "mem_source.h"
#include "tar/objpath.h"
#include "tar/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::MemSource src(data, size);
  oc::TarReader tar(src);
  oc::TarEntry e;
  try {
    while (tar.Next(e)) {
      if (e.path.compare(0, strlen(oc::kObjectsPrefix), oc::kObjectsPrefix) == 0) {
        try {
          oc::ObjRef r = oc::ParseObjectPath(e.path);
          if (!oc::IsSha256Hex(r.checksum)) __builtin_trap();
        } catch (const oc::Failure &) {
        }
      }
      if (e.size <= 4096) {
        std::string all = tar.ReadAll(4096, "too big: ");
        if (all.size() != e.size) __builtin_trap();
      } else {
        uint8_t buf[8192];
        while (tar.Read(buf, sizeof buf) > 0) {
        }
      }
    }
    tar.Drain();
  } catch (const oc::Failure &) {
    // A clear error is the expected outcome for most inputs.
  }
  return 0;
}
