// Content objects between the repo and fds or memory: the bodies of readContent and
// writeRegfileFromFd. Node-free; throws Failure.
#pragma once

#include <ostree.h>

#include <cstdint>
#include <optional>
#include <string>

#include "util/gobj.h"

namespace oc {

// A regular file object's content copied into `fd` (not closed); returns the byte count.
// Cancellation interrupts a blocked pipe.
uint64_t CopyContentToFd(OstreeRepo *repo, const std::string &checksum, int fd, GCancellable *c);

// A regular file object's content, read once into a block of its size.
GBytesPtr ReadContentBytes(OstreeRepo *repo, const std::string &checksum, GCancellable *c);

struct RegfileAttrs {
  std::optional<std::string> expected;  // the checksum libostree verifies, if any
  uint32_t uid = 0, gid = 0, mode = 0;  // mode with S_IFREG
  GVariant *xattrs = nullptr;           // a(ayay) or null
};
// Exactly `size` bytes read from `fd` (not closed) streamed into a new regular file object;
// returns its checksum. Cancellation interrupts a stalled pipe.
std::string WriteRegfileFromFd(OstreeRepo *repo, const RegfileAttrs &attrs, uint64_t size, int fd, GCancellable *c);

}  // namespace oc
