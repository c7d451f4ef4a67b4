// Transaction staging directories (repo/tmp/staging-*): libostree keeps the one of an aborted
// transaction, unlocked, for a day so that a later transaction can reuse its staged objects.
// A failed import must leave no temp files — after a full disk they are exactly the space the
// repository needs back — so the binding notes which directory its transaction locked and
// removes it after the abort, once it can take the lock itself.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>

#include "repo/repo.h"
#include "util/gobj.h"

namespace oc {
namespace {

constexpr const char kStagingPrefix[] = "staging-";

int OpenTmp(OstreeRepo *repo) { return openat(ostree_repo_get_dfd(repo), "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC); }

// libglnx locks tmp/<dir>-lock with an open-file-description write lock (glnx_make_lock_file);
// OFD locks conflict across descriptors even within one process, so this sees our own too.
struct flock WholeFile(short type) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  return fl;
}

bool IsLocked(int tmp, const std::string &dir) {
  Fd lock(openat(tmp, (dir + "-lock").c_str(), O_RDONLY | O_CLOEXEC));
  if (lock.get() < 0) return false;
  struct flock fl = WholeFile(F_WRLCK);
  return fcntl(lock.get(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

std::set<std::string> LockedStagingDirs(int tmp) {
  std::set<std::string> out;
  // a descriptor of its own: a dup() would share (and leave at the end) the directory offset
  int own = openat(tmp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (own < 0) return out;
  DIR *d = fdopendir(own);
  if (!d) {
    close(own);
    return out;
  }
  while (struct dirent *e = readdir(d)) {
    std::string name = e->d_name;
    struct stat st;
    bool lock_file = name.size() > 5 && name.compare(name.size() - 5, 5, "-lock") == 0;
    if (name.compare(0, sizeof kStagingPrefix - 1, kStagingPrefix) != 0 || lock_file) continue;
    if (fstatat(tmp, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) && IsLocked(tmp, name))
      out.insert(name);
  }
  closedir(d);
  return out;
}

// rm -rf of `name` below `dfd`, never following symlinks.
bool RemoveTreeAt(int dfd, const char *name) {
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return unlinkat(dfd, name, 0) == 0 || errno == ENOENT;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return false;
  }
  bool ok = true;
  while (struct dirent *e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    ok = RemoveTreeAt(dirfd(d), e->d_name) && ok;
  }
  closedir(d);
  return unlinkat(dfd, name, AT_REMOVEDIR) == 0 && ok;
}

}  // namespace

bool PrepareTransactionTracked(OstreeRepo *repo, gboolean *resumed, std::string *staging, GCancellable *c,
                               GError **error) {
  Fd tmp(OpenTmp(repo));
  std::set<std::string> before = tmp.get() >= 0 ? LockedStagingDirs(tmp.get()) : std::set<std::string>();
  if (!ostree_repo_prepare_transaction(repo, resumed, c, error)) return false;
  staging->clear();
  if (tmp.get() >= 0)
    for (const auto &name : LockedStagingDirs(tmp.get()))
      if (!before.count(name)) *staging = name;
  return true;
}

bool AbortTransactionAndClean(OstreeRepo *repo, const std::string &staging, GError **error) {
  bool ok = ostree_repo_abort_transaction(repo, nullptr, error);
  if (staging.empty()) return ok;
  Fd tmp(OpenTmp(repo));
  if (tmp.get() < 0) return ok;
  // Another transaction may have picked the directory up in the meantime: only with its lock.
  std::string lock_name = staging + "-lock";
  Fd lock(openat(tmp.get(), lock_name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  struct flock fl = WholeFile(F_WRLCK);
  if (lock.get() < 0 || fcntl(lock.get(), F_OFD_SETLK, &fl) != 0) return ok;
  RemoveTreeAt(tmp.get(), staging.c_str());
  unlinkat(tmp.get(), lock_name.c_str(), 0);
  return ok;
}

}  // namespace oc
