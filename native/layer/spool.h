// A fetched blob from a pipe into a file (the store's spool in the repo's tmp/), so a pull can
// keep more layers in flight on the network than it imports at once. Reads exactly the blob's
// size and no byte more: skopeo's proxy closes the pipe only after FinishPipe, which the caller
// sends once this is done (see src/proxy/blob-streams.ts). Node-free; throws Failure.
// spoolBlob() is spool_js.cc.
#pragma once

#include <gio/gio.h>

#include <cstdint>
#include <string>

namespace oc {

struct SpoolResult {
  std::string digest;  // sha256:<hex>
  uint64_t size = 0;
};

// `in_fd` copied into `out_fd` (neither closed; `out_fd` rewound after), `size` bytes (-1: up to
// EOF); `progress`, if not null, gets the byte count read so far.
SpoolResult SpoolBlob(int in_fd, int out_fd, int64_t size, uint64_t *progress, GCancellable *c);

}  // namespace oc
