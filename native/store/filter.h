// The derived-layer filter (store spec §3.2–3.5): a container layer tar in, the tar that
// libostree's archive importer commits out. Paths are normalised (etc → usr/etc, var remapped,
// API filesystems and non-/usr content filtered and counted), hardlinks into the ostree object
// store resolved, and every entry checked so that libostree only ever sees a well-formed stream
// (it asserts on some malformed hardlinks rather than failing).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "io/byte_stream.h"
#include "tar/reader.h"

namespace oc {

struct FilterConfig {
  bool allow_nonusr = false;  // keep top-level names other than usr/etc/var (rootIsTransient)
  bool remap_var = true;      // var/… → usr/share/factory/var/… (retainVar false)
};

// §3.2 for one entry path: either the path to commit (`./usr/…`, or `.` for the root) or the
// key it is filtered under. `..` reached by the walk fails with `Invalid path: <path>`.
struct NormalizedPath {
  bool filtered = false;
  std::string path;  // filtered: the key
};
NormalizedPath NormalizePath(const std::string &path, const FilterConfig &config);

// Filtered path key → count, sorted by key.
using FilteredCounts = std::map<std::string, uint32_t>;

// Copies `in` (an uncompressed layer tar) to `out` filtered; `spool_dfd` is a directory for an
// anonymous temp file holding modified object-store files until a hardlink claims them.
// Writes the end-of-archive marker only when the whole input was good.
FilteredCounts FilterLayerTar(TarReader &in, ByteSink &out, const FilterConfig &config, int spool_dfd);

}  // namespace oc
