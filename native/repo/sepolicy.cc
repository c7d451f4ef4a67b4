#include "repo/sepolicy.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "util/failure.h"

namespace oc {
namespace {

// libselinux's policy root is process-global (selinux_set_policy_root), and libostree sets it
// while loading a policy.
std::mutex policy_mutex;

// libostree's `^policy\.[0-9]+$` (a GRegex `$` also matches before a final newline) and the
// version it then takes: (int) g_ascii_strtoll, which it asserts to be positive.
bool PolicyFileVersion(const char *name, int *version) {
  if (strncmp(name, "policy.", 7) != 0) return false;
  std::string digits = name + 7;
  if (!digits.empty() && digits.back() == '\n') digits.pop_back();
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  *version = static_cast<int>(g_ascii_strtoll(digits.c_str(), nullptr, 10));
  return true;
}

// Reads the policy configuration the way ostree_sepolicy_new_at does and refuses what would
// crash it; anything it reports as an error itself is left to it.
void CheckPolicyTree(int rootfs_dfd, GCancellable *c) {
  GObj<GFile> root(g_file_new_for_path(("/proc/self/fd/" + std::to_string(rootfs_dfd)).c_str()));
  GObj<GFile> etc(g_file_resolve_relative_path(root.get(), "etc/selinux"));
  if (!g_file_query_exists(etc.get(), c)) etc.reset(g_file_resolve_relative_path(root.get(), "usr/etc/selinux"));
  GObj<GFile> config(g_file_get_child(etc.get(), "config"));
  char *raw = nullptr;
  gsize len = 0;
  if (!g_file_load_contents(config.get(), c, &raw, &len, nullptr, nullptr)) return;
  GStr contents(raw);
  if (!g_utf8_validate(raw, static_cast<gssize>(len), nullptr)) return;
  bool enabled = false;
  std::optional<std::string> type;
  std::string text(raw, len);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.compare(0, 12, "SELINUXTYPE=") == 0) {
      GStr t(g_strstrip(g_strdup(line.c_str() + 12)));
      type = t.get();
    } else if (line.compare(0, 8, "SELINUX=") == 0) {
      const char *v = line.c_str() + 8;
      if (g_ascii_strncasecmp(v, "enforcing", 9) == 0 || g_ascii_strncasecmp(v, "permissive", 10) == 0) enabled = true;
    }
  }
  if (!enabled) return;
  if (!type) Fail("Invalid SELinux configuration: SELINUX is enabled but SELINUXTYPE is missing");
  if (type->empty() || type->find('/') != std::string::npos || *type == "." || *type == "..")
    Fail("Invalid SELinux configuration: SELINUXTYPE=" + *type);
  GObj<GFile> typedir(g_file_get_child(etc.get(), type->c_str()));
  GObj<GFile> bindir(g_file_get_child(typedir.get(), "policy"));
  GObj<GFileEnumerator> it(g_file_enumerate_children(bindir.get(), "standard::name,standard::type",
                                                     G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, c, nullptr));
  if (!it) return;
  for (;;) {
    GFileInfo *info = nullptr;
    if (!g_file_enumerator_iterate(it.get(), &info, nullptr, c, nullptr) || !info) break;
    int version = 0;
    if (g_file_info_get_file_type(info) == G_FILE_TYPE_REGULAR &&
        PolicyFileVersion(g_file_info_get_name(info), &version) && version <= 0)
      Fail(std::string("Invalid SELinux policy file name: ") + g_file_info_get_name(info));
  }
}

}  // namespace

GObj<OstreeSePolicy> SePolicyAt(int rootfs_dfd, GCancellable *c) {
  std::lock_guard<std::mutex> lock(policy_mutex);
  CheckPolicyTree(rootfs_dfd, c);
  GErr e;
  GObj<OstreeSePolicy> policy(ostree_sepolicy_new_at(rootfs_dfd, c, e.out()));
  if (!policy) Fail(e);
  return policy;
}

GObj<OstreeSePolicy> SePolicyFromCommit(OstreeRepo *repo, const std::string &commit, int scratch_dfd,
                                        GCancellable *c) {
  GErr e;
  GFile *root_raw = nullptr;
  char *resolved_raw = nullptr;
  if (!ostree_repo_read_commit(repo, commit.c_str(), &root_raw, &resolved_raw, c, e.out())) Fail(e);
  GObj<GFile> root(root_raw);
  GStr resolved(resolved_raw);
  for (const char *d : {"usr", "usr/etc"})
    if (mkdirat(scratch_dfd, d, 0755) != 0 && errno != EEXIST) FailErrno(std::string("Creating ") + d, errno);
  GObj<GFile> policy(g_file_resolve_relative_path(root.get(), "usr/etc/selinux"));
  if (g_file_query_exists(policy.get(), c)) {
    OstreeRepoCheckoutAtOptions o = {};
    o.mode = OSTREE_REPO_CHECKOUT_MODE_USER;
    o.subpath = "/usr/etc/selinux";
    if (!ostree_repo_checkout_at(repo, &o, scratch_dfd, "usr/etc/selinux", resolved.get(), c, e.out())) Fail(e);
  }
  return SePolicyAt(scratch_dfd, c);
}

}  // namespace oc
