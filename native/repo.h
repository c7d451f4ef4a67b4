// The `Repo` class: a JS handle on an OstreeRepo. Other native files (layer import/export)
// take a Repo argument and borrow its OstreeRepo through RepoFromJs.
#pragma once

#include <napi.h>
#include <ostree.h>

#include <memory>

#include "util/gobj.h"

namespace oc {

// Owners for libostree's non-GObject refcounted types.
struct CommitModifierUnref {
  void operator()(OstreeRepoCommitModifier *m) const { if (m) ostree_repo_commit_modifier_unref(m); }
};
using CommitModifier = std::unique_ptr<OstreeRepoCommitModifier, CommitModifierUnref>;
struct DevInoCacheUnref {
  void operator()(OstreeRepoDevInoCache *c) const { if (c) ostree_repo_devino_cache_unref(c); }
};
using DevInoCachePtr = std::unique_ptr<OstreeRepoDevInoCache, DevInoCacheUnref>;

// A new reference to the OstreeRepo behind a JS Repo object; throws a TypeError naming
// `what` if `v` is not an open Repo.
GObj<OstreeRepo> RepoFromJs(const Napi::Value &v, const char *what = "repo");

// A JS Repo for an OstreeRepo obtained elsewhere (e.g. a sysroot's repo); takes a new reference.
Napi::Object RepoToJs(Napi::Env env, OstreeRepo *repo);

}  // namespace oc
