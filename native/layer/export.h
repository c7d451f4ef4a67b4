// Layer export: commit / object set → ostree-ext tar format version 1 (spec §1) → compressor
// → fd, one layer (ExportLayer) or many at once (ExportLayers).
#pragma once

#include <ostree.h>

#include <string>
#include <vector>

#include "codec/codec.h"
#include "layer/blob.h"
#include "tar/ostree_writer.h"

namespace oc {

struct LayerSpec {
  enum class Kind { Full, Commit, Chunk } kind = Kind::Full;
  std::string rev;                   // Full and Commit
  ObjectList objects;  // Chunk objects, or the Commit layer's remainder
  Compression compression = Compression::Gzip;
  int level = 0;     // 0: the codec's default
  bool zlib = false;  // gzip by zlib in one stream (upstream's bytes), not the parallel encoder
  int fd = -1;       // written, not closed
  std::string path;  // or created (and removed again when the export fails)
};

// Writes one layer to `fd` on the calling thread; gzip blocks go to the scheduler's tasks, zstd asks
// the budget for `threads` workers (contexts from `pool` when given, shared by an export's layers).
LayerResult ExportLayer(OstreeRepo *repo, const LayerSpec &spec, int fd, unsigned threads, GCancellable *cancellable,
                        CompressorPool *pool = nullptr);

struct ObjectAssignment;

// exportLayers: fills the layers' objects from `assign` (when given), then writes the layers
// within the scheduler's budget: `parallel` layers at once and `threads` zstd workers per layer
// at most (0: as the budget allows). The first failure cancels the other layers and is thrown
// once all have stopped; a cancellation that left layers unwritten is thrown as such. Output
// paths are renamed into place together at the end: a failed export leaves none of them.
void ExportLayers(OstreeRepo *repo, std::vector<LayerSpec> &specs, const ObjectAssignment *assign, unsigned threads,
                  unsigned parallel, GCancellable *cancellable, std::vector<LayerResult> &results);

}  // namespace oc
