// A temporary directory inside a repository's tmp/ (same filesystem as the objects, so checkouts
// can hardlink), removed with everything in it when the owner goes away.
#pragma once

#include <string>

#include "util/gobj.h"

namespace oc {

// rm -rf of `name` below `dfd`, never following symlinks; directories without write permission
// (checked out read-only) are made writable first. Best effort, for cleanup paths that cannot
// report: true when `name` is gone.
bool RemoveTree(int dfd, const char *name);

class RepoTempDir {
 public:
  // Creates `<repo>/tmp/<prefix>XXXXXX`; throws Failure.
  RepoTempDir(int repo_dfd, const char *prefix);
  ~RepoTempDir();
  RepoTempDir(const RepoTempDir &) = delete;
  RepoTempDir &operator=(const RepoTempDir &) = delete;
  int fd() const { return fd_.get(); }

 private:
  int repo_dfd_;
  std::string name_;  // relative to the repo
  Fd fd_;
};

}  // namespace oc
