// Object paths in the tar: building `sysroot/ostree/repo/objects/XX/<62>.<ext>`, and parsing
// `objects/XX/<62>.<ext>` paths and xattrs-link targets (spec §2.3).
#pragma once

#include <string>

#include "tar/format.h"
#include "util/failure.h"

namespace oc {

enum class ObjKind { Commit, CommitMeta, DirTree, DirMeta, File, FileXattrs, FileXattrsLink, Xattrs0 };

inline const char *ObjKindName(ObjKind k) {
  switch (k) {
    case ObjKind::Commit: return "Commit";
    case ObjKind::CommitMeta: return "CommitMeta";
    case ObjKind::DirTree: return "DirTree";
    case ObjKind::DirMeta: return "DirMeta";
    case ObjKind::File: return "File";
    case ObjKind::FileXattrs: return "FileXattrs";
    case ObjKind::FileXattrsLink: return "FileXattrsLink";
    case ObjKind::Xattrs0: return "Xattrs";
  }
  return "Unknown";
}

// `sysroot/ostree/repo/objects/XX/<62>.<ext>`
inline std::string ObjectPath(const std::string &checksum, const char *ext) {
  return std::string(kObjectsPrefix) + checksum.substr(0, 2) + "/" + checksum.substr(2) + "." + ext;
}

struct ObjRef {
  std::string checksum;
  ObjKind kind;
};

inline bool IsSha256Hex(const std::string &s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

inline void ValidateSha256(const std::string &s) {
  if (s.size() != 64) Fail("Invalid sha256 checksum (len) " + s);
  if (!IsSha256Hex(s)) Fail("Invalid sha256 checksum " + s);
}

// Uses the last two components: parent `XX`, name `<62>.<ext>` (trailing `.file` suffixes of
// the stem are dropped, for v0 `.file.xattrs`).
inline ObjRef ParseObjectPath(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) Fail("Invalid path (no parent) " + path);
  std::string name = path.substr(slash + 1);
  size_t pslash = slash == 0 ? std::string::npos : path.rfind('/', slash - 1);
  std::string parent = path.substr(pslash == std::string::npos ? 0 : pslash + 1,
                                   slash - (pslash == std::string::npos ? 0 : pslash + 1));
  if (parent.size() != 2) Fail("Invalid checksum parent " + parent);
  size_t dot = name.rfind('.');
  if (dot == std::string::npos) Fail("Invalid objpath " + path);
  std::string ext = name.substr(dot + 1);
  std::string stem = name.substr(0, dot);
  while (stem.size() >= 5 && stem.compare(stem.size() - 5, 5, ".file") == 0) stem.resize(stem.size() - 5);
  if (stem.size() != 62) Fail("Invalid checksum part " + stem);
  ObjRef r;
  r.checksum = parent + stem;
  ValidateSha256(r.checksum);
  if (ext == "commit") r.kind = ObjKind::Commit;
  else if (ext == "commitmeta") r.kind = ObjKind::CommitMeta;
  else if (ext == "dirtree") r.kind = ObjKind::DirTree;
  else if (ext == "dirmeta") r.kind = ObjKind::DirMeta;
  else if (ext == "file") r.kind = ObjKind::File;
  else if (ext == "file-xattrs") r.kind = ObjKind::FileXattrs;
  else if (ext == "file-xattrs-link") r.kind = ObjKind::FileXattrsLink;
  else if (ext == "xattrs") r.kind = ObjKind::Xattrs0;
  else Fail("Invalid object type " + ext);
  return r;
}

}  // namespace oc
