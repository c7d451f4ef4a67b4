// One walk of a commit's tree for automatic chunking (src/container/auto-chunking.ts): every file
// path with its content object, each object's size, symlink target, whether it is ELF and the
// value of one xattr (bootc's `user.component`), and the same xattr on directories — compact
// arrays instead of one JS call per object. Node-free; throws Failure. scanTree() is scan_js.cc.
#pragma once

#include <ostree.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace oc {

struct ScanResult {
  std::vector<std::string> files;       // tree paths, walk order
  std::vector<uint32_t> file_object;    // object index of each path
  std::string checksums;                // 32 raw bytes per object, first-seen order
  std::vector<double> sizes;            // content size per object (0 for symlinks)
  std::vector<uint8_t> elf;             // 1 when the object's content starts with ELF's magic
  std::vector<std::pair<uint32_t, std::string>> targets;  // symlink objects
  std::vector<std::pair<uint32_t, std::string>> object_xattr;
  std::vector<std::string> dirs;        // directory paths, walk order ("/" first)
  std::vector<std::pair<uint32_t, std::string>> dir_xattr;
};

// The tree of the commit `rev` (a ref or checksum); `xattr` empty reads no xattrs.
ScanResult ScanTree(OstreeRepo *repo, const std::string &rev, const std::string &xattr, GCancellable *c);

}  // namespace oc
