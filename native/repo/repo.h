// The repo core: owners for libostree's non-GObject refcounted types, shared by the repo, layer
// and store code. Node-free; the `Repo` binding is repo/*_js.*.
#pragma once

#include <ostree.h>

#include <memory>

namespace oc {

struct CommitModifierUnref {
  void operator()(OstreeRepoCommitModifier *m) const { if (m) ostree_repo_commit_modifier_unref(m); }
};
using CommitModifier = std::unique_ptr<OstreeRepoCommitModifier, CommitModifierUnref>;
struct DevInoCacheUnref {
  void operator()(OstreeRepoDevInoCache *c) const { if (c) ostree_repo_devino_cache_unref(c); }
};
using DevInoCachePtr = std::unique_ptr<OstreeRepoDevInoCache, DevInoCacheUnref>;

}  // namespace oc
