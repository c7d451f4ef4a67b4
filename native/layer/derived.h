// fd → decompressor → tar filter (§3.2–3.5) → libostree's archive importer → commit: the
// store's derived (non-ostree) layers, written in-process (upstream runs `ostree commit`).
#pragma once

#include <ostree.h>

#include <cstdint>
#include <optional>
#include <string>

#include "codec/media_type.h"
#include "layer/blob.h"
#include "store/filter.h"

namespace oc {

struct DerivedSpec {
  int fd = -1;  // read, not closed
  std::string path;
  Compression compression = Compression::Gzip;
  std::string base;       // base commit; with `selinux`, its usr/etc/selinux policy labels the layer
  bool selinux = false;
  FilterConfig filter;
  std::string importer_version;
  std::string ref;        // set to the commit in the transaction, when not empty
  bool own_transaction = true;
  std::optional<uint64_t> timestamp;  // default: now, as `ostree commit`
  uint64_t *bytes_read = nullptr;     // progress: the input bytes read so far are published here
};

struct DerivedResult : BlobDigests {
  std::string commit;
  FilteredCounts filtered;
};

DerivedResult ImportDerivedLayer(OstreeRepo *repo, const DerivedSpec &spec, GCancellable *cancellable);

}  // namespace oc
