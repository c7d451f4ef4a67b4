// Commit / object set → ostree-ext tar format version 1 (spec §1) → compressor → fd.
#pragma once

#include <napi.h>
#include <ostree.h>

#include <string>
#include <vector>

#include "compress.h"
#include "layer_blob.h"

namespace oc {

struct ChunkObject {
  std::string checksum;
  std::vector<std::string> paths;  // absolute tree paths ("/usr/bin/bash"), tree-walk order
};

struct LayerSpec {
  enum class Kind { Full, Commit, Chunk } kind = Kind::Full;
  std::string rev;                   // Full and Commit
  std::vector<ChunkObject> objects;  // Chunk objects, or the Commit layer's remainder
  Compression compression = Compression::Gzip;
  int level = 0;     // 0: the codec's default
  int fd = -1;       // written, not closed
  std::string path;  // or created (and removed again on failure)
};

struct LayerResult : BlobDigests {
  std::string commit, media_type;  // commit: full exports and commit layers
};

// { diffId, digest, size, uncompressedSize, mediaType, commit? }
Napi::Object LayerResultToJs(Napi::Env env, const LayerResult &r);

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

// Writes one layer on the calling thread; gzip blocks go to the scheduler's tasks, zstd asks the
// budget for `threads` workers (contexts from `pool` when given, shared by an export's layers).
LayerResult ExportLayer(OstreeRepo *repo, const LayerSpec &spec, unsigned threads, GCancellable *cancellable,
                        CompressorPool *pool = nullptr);

}  // namespace oc
