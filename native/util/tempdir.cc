#include "util/tempdir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "util/failure.h"

namespace oc {

bool RemoveTree(int dfd, const char *name) {
  if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return true;
  int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
    sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0) return false;
  fchmod(sub, 0700);  // a checked-out directory may have no write permission
  DIR *d = fdopendir(sub);
  if (!d) {
    close(sub);
    return false;
  }
  std::vector<std::string> names;
  while (struct dirent *ent = readdir(d)) {
    std::string n = ent->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  bool ok = true;
  for (const auto &n : names) ok = RemoveTree(dirfd(d), n.c_str()) && ok;
  closedir(d);
  return unlinkat(dfd, name, AT_REMOVEDIR) == 0 && ok;
}

RepoTempDir::RepoTempDir(int repo_dfd, const char *prefix) : repo_dfd_(repo_dfd) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int attempt = 0; attempt < 100; attempt++) {
    std::string name = std::string("tmp/") + prefix;
    for (int i = 0; i < 8; i++) name += kChars[g_random_int_range(0, sizeof kChars - 1)];
    if (mkdirat(repo_dfd, name.c_str(), 0700) == 0) {
      name_ = name;
      fd_.reset(openat(repo_dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd_) {
        int err = errno;
        unlinkat(repo_dfd, name.c_str(), AT_REMOVEDIR);
        FailErrno("Opening " + name, err);
      }
      return;
    }
    if (errno != EEXIST) FailErrno("Creating a directory in the repository's tmp/", errno);
  }
  Fail("Creating a directory in the repository's tmp/: too many name collisions");
}

RepoTempDir::~RepoTempDir() {
  fd_.reset();
  RemoveTree(repo_dfd_, name_.c_str());
}

}  // namespace oc
