// libFuzzer harness: object paths and xattrs-link targets (`objects/XX/<62>.<ext>`).
#include <cstdint>
#include <string>

#include "tar/objpath.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path(reinterpret_cast<const char *>(data), size);
  try {
    oc::ObjRef r = oc::ParseObjectPath(path);
    if (!oc::IsSha256Hex(r.checksum)) __builtin_trap();
    // The canonical path of what was parsed parses back to the same object.
    size_t dot = path.rfind('.');
    oc::ObjRef again = oc::ParseObjectPath(oc::ObjectPath(r.checksum, path.c_str() + dot + 1));
    if (again.checksum != r.checksum || again.kind != r.kind) __builtin_trap();
  } catch (const oc::Failure &) {
  }
  return 0;
}
