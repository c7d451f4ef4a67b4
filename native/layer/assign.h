// exportLayers' `assign` option: content objects of a commit's tree handed out to layers by
// checksum.
#pragma once

#include <ostree.h>

#include <cstdint>
#include <string>
#include <vector>

#include "layer/export.h"

namespace oc {

// Content objects of a commit's tree handed out to layers by checksum (exportLayers' `assign`):
// the tree is walked once and every object lands, with all its tree paths, in its layer's
// `objects` — compact input instead of per-object JS arrays.
struct ObjectAssignment {
  std::string rev;
  std::vector<uint8_t> checksums;  // 32 raw bytes per object
  std::vector<uint32_t> layers;    // layer index per checksum
  int64_t default_layer = -1;      // for tree objects not listed; -1: they are an error
};

// Fills the layers' `objects` (checksum order, paths in tree-walk order) from `a`.
void AssignObjects(OstreeRepo *repo, const ObjectAssignment &a, std::vector<LayerSpec> &specs, GCancellable *cancellable);

}  // namespace oc
