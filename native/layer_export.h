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

// Writes one layer; runs on the calling (worker) thread plus `threads` compression threads.
LayerResult ExportLayer(OstreeRepo *repo, const LayerSpec &spec, unsigned threads, GCancellable *cancellable);

}  // namespace oc
