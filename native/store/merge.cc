// The merge commit of a layered image (store spec §2.3 D): the base commit and the derived-layer
// commits checked out over each other (whiteouts applied), relabelled, committed with the base as
// parent. Runs inside the caller's transaction.
#include "store/merge.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo/repo.h"
#include "repo/sepolicy.h"
#include "repo/tree.h"
#include "util/failure.h"
#include "util/tempdir.h"

namespace oc {
namespace {

// Files container builds inject (buildah#4242): removed when they are empty regular files.
void CleanupRoot(int root_dfd) {
  for (const char *p : {"usr/etc/hostname", "usr/etc/resolv.conf"}) {
    struct stat st;
    if (fstatat(root_dfd, p, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      FailErrno(std::string("Inspecting ") + p, errno);
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0 && unlinkat(root_dfd, p, 0) != 0)
      FailErrno(std::string("Removing ") + p, errno);
  }
}

}  // namespace

std::string WriteMergeCommit(OstreeRepo *repo, const MergeSpec &spec, GCancellable *c) {
  const OstreeRepoMode mode = ostree_repo_get_mode(repo);
  if (mode == OSTREE_REPO_MODE_ARCHIVE)
    Fail("Cannot write a merge commit into an archive repository: it needs hardlink checkouts (use a bare or "
         "bare-user repository; archive repositories can only receive image copies)",
         "NOT_SUPPORTED");
  if (spec.base.empty() && spec.layers.empty()) Fail("Nothing to merge: no base commit and no layers");

  RepoTempDir td(ostree_repo_get_dfd(repo), "merge-");
  const char *const root = "root";
  DevInoCachePtr devino(ostree_repo_devino_cache_new());
  OstreeRepoCheckoutAtOptions co = {};
  co.mode = mode == OSTREE_REPO_MODE_BARE ? OSTREE_REPO_CHECKOUT_MODE_NONE : OSTREE_REPO_CHECKOUT_MODE_USER;
  co.overwrite_mode = OSTREE_REPO_CHECKOUT_OVERWRITE_UNION_FILES;
  co.devino_to_csum_cache = devino.get();
  co.no_copy_fallback = TRUE;
  co.force_copy_zerosized = TRUE;
  GErr e;
  if (!spec.base.empty()) {
    co.process_whiteouts = FALSE;
    WithContext("Checking out base commit", [&] {
      if (!ostree_repo_checkout_at(repo, &co, td.fd(), root, spec.base.c_str(), c, e.out())) Fail(e);
    });
  }
  co.process_whiteouts = TRUE;
  for (const auto &layer : spec.layers)
    WithContext("Checking out layer " + layer, [&] {
      if (!ostree_repo_checkout_at(repo, &co, td.fd(), root, layer.c_str(), c, e.out())) Fail(e);
    });

  Fd root_dfd(openat(td.fd(), root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_dfd) FailErrno("Opening the merged root", errno);
  CommitModifier modifier(ostree_repo_commit_modifier_new(OSTREE_REPO_COMMIT_MODIFIER_FLAGS_CONSUME, nullptr, nullptr, nullptr));
  ostree_repo_commit_modifier_set_devino_cache(modifier.get(), devino.get());
  // A derived layer may bring its own policy: then label from the merged tree, else from the base
  // (as ostree_repo_commit_modifier_set_sepolicy_from_commit, through the checked loader).
  GObj<OstreeSePolicy> policy;
  if (!spec.layers.empty()) {
    policy = SePolicyAt(root_dfd.get(), c);
  } else {
    if (mkdirat(td.fd(), "policy", 0700) != 0) FailErrno("Creating policy", errno);
    Fd scratch(openat(td.fd(), "policy", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!scratch) FailErrno("Opening policy", errno);
    policy = WithContext("setting sepolicy from commit", [&] { return SePolicyFromCommit(repo, spec.base, scratch.get(), c); });
  }
  ostree_repo_commit_modifier_set_sepolicy(modifier.get(), policy.get());
  CleanupRoot(root_dfd.get());

  GObj<OstreeMutableTree> mtree(ostree_mutable_tree_new());
  WithContext("Writing merged filesystem to mtree", [&] {
    if (!ostree_repo_write_dfd_to_mtree(repo, td.fd(), root, mtree.get(), modifier.get(), c, e.out())) Fail(e);
  });
  CommitFields fields;
  fields.metadata = spec.metadata.get();
  fields.timestamp = spec.timestamp;
  // The base commit is the parent, as upstream writes it (bootc#1600): the base is one lookup away.
  if (!spec.base.empty()) fields.parent = spec.base;
  return WithContext("Writing commit", [&] { return CommitTree(repo, mtree.get(), fields, c); });
}

}  // namespace oc
