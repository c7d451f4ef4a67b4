// Trees and commits: building a mutable tree (from a base tree, host directories and single
// entries), writing a commit of a tree, checking out, and the devino cache checkout and commit
// share. Node-free; throws Failure. The JS side (parsing, the DevInoCache class) is tree_js.cc.
#pragma once

#include <ostree.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "repo/repo.h"
#include "util/gobj.h"

namespace oc {

// An OstreeRepoDevInoCache is a plain GHashTable that checkout fills and commit reads: jobs
// sharing one take its mutex for their whole run (they never wait on each other otherwise).
struct SharedDevIno {
  DevInoCachePtr cache{ostree_repo_devino_cache_new()};
  std::mutex mu;
};
using DevInoRef = std::shared_ptr<SharedDevIno>;

// Holds `devino`'s mutex (if any) while alive.
inline std::unique_lock<std::mutex> LockDevIno(const DevInoRef &devino) {
  return devino ? std::unique_lock<std::mutex>(devino->mu) : std::unique_lock<std::mutex>();
}

// A tree entry: a path (split, no '..') and what goes there.
struct MtreeEntry {
  enum Kind { kFile, kDir, kRemove } kind;
  std::vector<std::string> path;
  std::string checksum;  // file object (kFile) or dirmeta (kDir, may be empty)
  std::string display;
};

struct MtreeDirectory {
  std::string source;             // host path
  std::vector<std::string> dest;  // inside the tree; empty = root
};

struct ModifierSpec {
  bool present = false;
  int flags = OSTREE_REPO_COMMIT_MODIFIER_FLAGS_NONE;
  std::optional<uint32_t> uid, gid;
  std::optional<std::string> sepolicy_from_commit;
  DevInoRef devino;
};

// Order: base, then directories, then entries, then root_metadata.
struct MtreeSpec {
  std::optional<std::string> base_contents, base_metadata, base_commit;
  std::vector<MtreeDirectory> directories;
  std::vector<MtreeEntry> entries;
  std::optional<std::string> parent_dir_metadata, root_metadata;
  ModifierSpec modifier;
};

// Builds the tree `spec` describes and writes it; returns the root dirtree and dirmeta checksums.
std::pair<std::string, std::string> WriteMtreeSpec(OstreeRepo *repo, const MtreeSpec &spec, GCancellable *c);

// What a commit carries besides its tree.
struct CommitFields {
  std::optional<std::string> parent, subject, body;
  GVariant *metadata = nullptr;       // a{sv} or null
  std::optional<uint64_t> timestamp;  // default: now (or SOURCE_DATE_EPOCH), as libostree does
};
// Writes `mtree` and a commit of it; returns the commit checksum. Every commit the addon writes
// goes through here.
std::string CommitTree(OstreeRepo *repo, OstreeMutableTree *mtree, const CommitFields &fields, GCancellable *c);

// ostree_repo_checkout_at into `dest` (relative to the current directory); a failed or
// cancelled checkout removes the destination it created (not one that was there).
void CheckoutNew(OstreeRepo *repo, const OstreeRepoCheckoutAtOptions &options, const std::string &dest,
                 const std::string &commit, GCancellable *c);

}  // namespace oc
