// The derived-layer filter (store spec §3.2–3.5): a container layer tar in, the tar that
// libostree's archive importer commits out. Paths are normalised (etc → usr/etc, var remapped,
// API filesystems and non-/usr content filtered and counted), hardlinks into the ostree object
// store resolved, GNU sparse files expanded, and every entry checked so that libostree only ever
// sees a well-formed stream (it asserts on some malformed hardlinks rather than failing). The
// layer is untrusted: every path is bounded before any work is done on it, and what the filter
// and libostree keep per entry is budgeted, so a small layer cannot take much memory or time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "io/byte_stream.h"
#include "tar/reader.h"

namespace oc {

struct FilterConfig {
  bool allow_nonusr = false;  // keep top-level names other than usr/etc/var (rootIsTransient)
  bool remap_var = true;      // var/… → usr/share/factory/var/… (retainVar false)
  // Identical empty files imported as hardlinks to one (the same commit, much faster); off when
  // an SELinux policy labels files by their paths.
  bool share_empty_files = true;
};

// Limits on each entry's path (and link target) as written, checked before anything else is
// done with it. PATH_MAX bytes; '/'-separated parts as written (empty and `.` included); names
// in the committed path (a checkout descends that deep, one directory at a time).
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxPathComponents = 1024;
inline constexpr size_t kMaxPathDepth = 256;

// What the committed tree may cost in memory, estimated per entry as the filter's bookkeeping
// plus libostree's (its mutable tree keeps a name and a checksum per file, an object per
// directory, the full path of every hardlink; writing a directory's listing takes more): bounds
// a layer of many entries or long names that compresses to almost nothing. Room for about
// 450,000 short-named files, 160,000 in one directory, or 55,000 directories (a whole OS /usr is
// ~140,000 files in ~17,000 directories).
inline constexpr uint64_t kMaxTreeCost = 120ull * 1024 * 1024;
// Object-store files waiting for a hardlink are spooled to disk; their headers and PAX records
// together may not exceed this (a few hundred bytes each in real layers).
inline constexpr uint64_t kMaxParkedMetadata = 64ull * 1024 * 1024;
// libostree's importer walks a list of the hardlinks to a file to append each one: this bounds
// that work summed over the layer (hundreds of links to one file cost nothing; 100,000 take
// minutes).
inline constexpr uint64_t kMaxHardlinkWork = 100000000;
// Entries (headers) per layer: libostree spends tens of microseconds on each one it imports,
// even when it names a path again, so this bounds the time a small layer can take.
inline constexpr uint64_t kMaxEntries = 1000000;
// Distinct keys entries are filtered under (the import's result and commit metadata list them).
inline constexpr size_t kMaxFilteredKeys = 10000;

// §3.2 for one entry path: either the path to commit (`./usr/…`, or `.` for the root) or the
// key it is filtered under. `..` reached by the walk fails with `Invalid path: <path>`.
struct NormalizedPath {
  bool filtered = false;
  std::string path;  // filtered: the key
};
NormalizedPath NormalizePath(const std::string &path, const FilterConfig &config);

// Filtered path key → count, sorted by key.
using FilteredCounts = std::map<std::string, uint32_t>;

// Copies `in` (an uncompressed layer tar, read with TarReader::Sparse::Expand) to `out`
// filtered; `spool_dfd` is a directory for an anonymous temp file holding modified object-store
// files until a hardlink claims them. Writes the end-of-archive marker only when the whole input
// was good: on any failure libostree sees a truncated archive.
FilteredCounts FilterLayerTar(TarReader &in, ByteSink &out, const FilterConfig &config, int spool_dfd);

}  // namespace oc
