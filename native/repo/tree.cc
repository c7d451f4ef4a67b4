#include "repo/tree.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "repo/sepolicy.h"
#include "util/failure.h"
#include "util/tempdir.h"

namespace oc {
namespace {

struct Ownership {
  std::optional<uint32_t> uid, gid;
};

OstreeRepoCommitFilterResult OwnershipFilter(OstreeRepo *, const char *, GFileInfo *fi, gpointer data) {
  auto *o = static_cast<Ownership *>(data);
  if (o->uid) g_file_info_set_attribute_uint32(fi, "unix::uid", *o->uid);
  if (o->gid) g_file_info_set_attribute_uint32(fi, "unix::gid", *o->gid);
  return OSTREE_REPO_COMMIT_FILTER_ALLOW;
}

// `policy_dir` receives the checkout of the policy (it must outlive the modifier).
CommitModifier MakeModifier(OstreeRepo *repo, const ModifierSpec &spec, std::unique_ptr<RepoTempDir> &policy_dir,
                            GCancellable *c) {
  CommitModifier out;
  if (!spec.present) return out;
  OstreeRepoCommitFilter filter = nullptr;
  Ownership *own = nullptr;
  if (spec.uid || spec.gid) {
    own = new Ownership{spec.uid, spec.gid};
    filter = OwnershipFilter;
  }
  out.reset(ostree_repo_commit_modifier_new(static_cast<OstreeRepoCommitModifierFlags>(spec.flags), filter, own,
                                            [](gpointer p) { delete static_cast<Ownership *>(p); }));
  if (spec.devino) ostree_repo_commit_modifier_set_devino_cache(out.get(), spec.devino->cache.get());
  if (spec.sepolicy_from_commit) {
    // Through the checked loader (repo/sepolicy.h): libostree's own aborts on some policy trees.
    WithContext("setting sepolicy from commit", [&] {
      policy_dir = std::make_unique<RepoTempDir>(ostree_repo_get_dfd(repo), "sepolicy-");
      GObj<OstreeSePolicy> policy = SePolicyFromCommit(repo, *spec.sepolicy_from_commit, policy_dir->fd(), c);
      ostree_repo_commit_modifier_set_sepolicy(out.get(), policy.get());
    });
  }
  return out;
}

// Walks (creating as needed) `parts[0..n)` below `root`; new directories get `meta`.
// Returns a new ref to the last directory.
GObj<OstreeMutableTree> EnsureDirs(OstreeMutableTree *root, const std::vector<std::string> &parts, size_t n,
                                   const std::optional<std::string> &meta, const std::string &display) {
  GObj<OstreeMutableTree> cur(OSTREE_MUTABLE_TREE(g_object_ref(root)));
  for (size_t i = 0; i < n; i++) {
    OstreeMutableTree *sub = nullptr;
    WithContext("Adding '" + display + "'", [&] {
      GErr e;
      if (!ostree_mutable_tree_ensure_dir(cur.get(), parts[i].c_str(), &sub, e.out())) Fail(e);
    });
    cur.reset(sub);
    if (!ostree_mutable_tree_get_metadata_checksum(cur.get())) {
      if (!meta)
        FailIo(G_IO_ERROR_INVALID_ARGUMENT,
               "Adding '" + display + "': directory '" + parts[i] + "' has no metadata; pass parentDirMetadata");
      ostree_mutable_tree_set_metadata_checksum(cur.get(), meta->c_str());
    }
  }
  return cur;
}

GObj<OstreeMutableTree> BuildMtree(OstreeRepo *repo, const MtreeSpec &spec, GCancellable *c) {
  GObj<OstreeMutableTree> root;
  GErr e;
  if (spec.base_commit) {
    root.reset(ostree_mutable_tree_new_from_commit(repo, spec.base_commit->c_str(), e.out()));
    if (!root) Fail(e);
  } else if (spec.base_contents) {
    root.reset(ostree_mutable_tree_new_from_checksum(repo, spec.base_contents->c_str(), spec.base_metadata->c_str()));
  } else {
    root.reset(ostree_mutable_tree_new());
  }
  std::unique_ptr<RepoTempDir> policy_dir;
  CommitModifier modifier = MakeModifier(repo, spec.modifier, policy_dir, c);
  for (const auto &d : spec.directories) {
    GObj<OstreeMutableTree> dest = EnsureDirs(root.get(), d.dest, d.dest.size(), spec.parent_dir_metadata, d.source);
    WithContext("Writing directory '" + d.source + "'", [&] {
      if (!ostree_repo_write_dfd_to_mtree(repo, AT_FDCWD, d.source.c_str(), dest.get(), modifier.get(), c, e.out()))
        Fail(e);
    });
  }
  for (const auto &entry : spec.entries) {
    size_t n = entry.path.size();
    if (entry.kind == MtreeEntry::kDir) {
      GObj<OstreeMutableTree> dir = EnsureDirs(
          root.get(), entry.path, n, entry.checksum.empty() ? spec.parent_dir_metadata : entry.checksum, entry.display);
      if (!entry.checksum.empty()) ostree_mutable_tree_set_metadata_checksum(dir.get(), entry.checksum.c_str());
      continue;
    }
    GObj<OstreeMutableTree> parent = EnsureDirs(root.get(), entry.path, n - 1, spec.parent_dir_metadata, entry.display);
    const char *name = entry.path.back().c_str();
    WithContext("Adding '" + entry.display + "'", [&] {
      bool ok = entry.kind == MtreeEntry::kFile
                    ? ostree_mutable_tree_replace_file(parent.get(), name, entry.checksum.c_str(), e.out())
                    : ostree_mutable_tree_remove(parent.get(), name, FALSE, e.out());
      if (!ok) Fail(e);
    });
  }
  if (spec.root_metadata) ostree_mutable_tree_set_metadata_checksum(root.get(), spec.root_metadata->c_str());
  if (!ostree_mutable_tree_get_metadata_checksum(root.get()))
    FailIo(G_IO_ERROR_INVALID_ARGUMENT, "The root directory has no metadata; pass rootMetadata");
  return root;
}

GObj<GFile> WriteTreeRoot(OstreeRepo *repo, OstreeMutableTree *mtree, GCancellable *c) {
  GErr e;
  GFile *root = nullptr;
  if (!ostree_repo_write_mtree(repo, mtree, &root, c, e.out())) Fail(e);
  return GObj<GFile>(root);
}

}  // namespace

std::pair<std::string, std::string> WriteMtreeSpec(OstreeRepo *repo, const MtreeSpec &spec, GCancellable *c) {
  auto devino_lock = LockDevIno(spec.modifier.devino);
  GObj<OstreeMutableTree> mtree = BuildMtree(repo, spec, c);
  GObj<GFile> root = WriteTreeRoot(repo, mtree.get(), c);
  return {ostree_repo_file_tree_get_contents_checksum(OSTREE_REPO_FILE(root.get())),
          ostree_repo_file_tree_get_metadata_checksum(OSTREE_REPO_FILE(root.get()))};
}

std::string CommitTree(OstreeRepo *repo, OstreeMutableTree *mtree, const CommitFields &f, GCancellable *c) {
  GObj<GFile> root = WriteTreeRoot(repo, mtree, c);
  auto str = [](const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; };
  GErr e;
  char *csum = nullptr;
  bool ok = f.timestamp ? ostree_repo_write_commit_with_time(repo, str(f.parent), str(f.subject), str(f.body), f.metadata,
                                                             OSTREE_REPO_FILE(root.get()), *f.timestamp, &csum, c, e.out())
                        : ostree_repo_write_commit(repo, str(f.parent), str(f.subject), str(f.body), f.metadata,
                                                   OSTREE_REPO_FILE(root.get()), &csum, c, e.out());
  GStr owned(csum);
  if (!ok) Fail(e);
  return csum;
}

void CheckoutNew(OstreeRepo *repo, const OstreeRepoCheckoutAtOptions &options, const std::string &dest,
                 const std::string &commit, GCancellable *c) {
  OstreeRepoCheckoutAtOptions co = options;
  struct stat st;
  bool existed = fstatat(AT_FDCWD, dest.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  GErr e;
  if (!ostree_repo_checkout_at(repo, &co, AT_FDCWD, dest.c_str(), commit.c_str(), c, e.out())) {
    if (!existed) RemoveTree(AT_FDCWD, dest.c_str());
    Fail(e);
  }
}

}  // namespace oc
