// fd → decompressor → tar filter (§3.2–3.5) → libostree's archive importer → commit: the
// store's derived (non-ostree) layers, written in-process (upstream runs `ostree commit`).
// Node-free (the JS binding is derived_js.cc; test/fuzz/derived_import_fuzz.cc drives it too).
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

// Imports the layer read from `input_fd` (not closed) on the calling thread; the filter runs on
// a thread of its own. Any failure throws, after the filter thread has ended and, with its own
// transaction, after that transaction was aborted and its staging directory removed.
DerivedResult ImportDerivedLayer(OstreeRepo *repo, int input_fd, const DerivedSpec &spec, GCancellable *cancellable);

}  // namespace oc
