// fd → decompressor → tar → ostree objects (spec §2): commit mode and object-set mode.
#pragma once

#include <ostree.h>

#include <cstdint>
#include <string>

#include "codec/media_type.h"
#include "layer/blob.h"

namespace oc {

struct ImportSpec {
  enum class Mode { Commit, Objects } mode = Mode::Commit;
  std::string remote;          // commit mode: verify the detached signature through this remote
  bool finish = false;         // object-set mode: write the synthetic commit of §2.5
  bool own_transaction = true; // false: the caller holds the repo transaction open
  Compression compression = Compression::Gzip;
  int fd = -1;                 // read, not closed
  std::string path;
  uint64_t *bytes_read = nullptr;  // progress: the input bytes read so far are published here
};

struct ImportResult : BlobDigests {
  std::string commit, verify_text;
  bool has_verify_text = false;
  uint64_t objects_written = 0, objects_reused = 0, bytes_written = 0;
};

ImportResult ImportLayer(OstreeRepo *repo, const ImportSpec &spec, GCancellable *cancellable);

}  // namespace oc
