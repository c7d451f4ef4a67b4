// Tar-level update of a commit layer's detached metadata (spec §6): a commit layer copied,
// its `.commitmeta` entry replaced or dropped. Node-free; rewriteDetachedMetadata() is
// rewrite_js.cc.
#pragma once

#include <gio/gio.h>

#include <optional>
#include <string>

#include "codec/media_type.h"
#include "layer/blob.h"

namespace oc {

struct RewriteSpec {
  int in_fd = -1, out_fd = -1;  // read / written, not closed
  std::string in_path, out_path;
  Compression in_comp = Compression::Gzip, out_comp = Compression::Gzip;
  std::optional<std::string> detached;  // the new `.commitmeta`; none: dropped
  unsigned threads = 1;                 // zstd workers of the output
};

LayerResult RewriteDetachedMetadata(const RewriteSpec &spec, GCancellable *cancellable);

}  // namespace oc
