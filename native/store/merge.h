// base + derived-layer commits → the merge commit of a layered image (store spec §2.3 D).
#pragma once

#include <ostree.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/gobj.h"

namespace oc {

struct MergeSpec {
  std::string base;                 // empty for a generic image
  std::vector<std::string> layers;  // derived-layer commits, in manifest order
  GVar metadata;                    // a{sv} or null
  uint64_t timestamp = 0;
};

// Writes the merge commit inside the caller's open transaction; returns its checksum.
std::string WriteMergeCommit(OstreeRepo *repo, const MergeSpec &spec, GCancellable *cancellable);

}  // namespace oc
