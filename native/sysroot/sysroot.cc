#include "sysroot/sysroot.h"

#include "util/failure.h"

namespace oc {

DeploymentRef ShareDeployment(OstreeDeployment *d) {
  return DeploymentRef(d ? OSTREE_DEPLOYMENT(g_object_ref(d)) : nullptr,
                       [](OstreeDeployment *p) { if (p) g_object_unref(p); });
}

Groups KeyFileGroups(GKeyFile *kf) {
  Groups out;
  gsize ngroups = 0;
  char **groups = g_key_file_get_groups(kf, &ngroups);
  for (gsize i = 0; i < ngroups; i++) {
    KeyValues kvs;
    gsize nkeys = 0;
    char **keys = g_key_file_get_keys(kf, groups[i], &nkeys, nullptr);
    for (gsize j = 0; j < nkeys; j++) {
      // get_string unescapes; a value it refuses (bad escape) is kept raw.
      GStr v(g_key_file_get_string(kf, groups[i], keys[j], nullptr));
      if (!v) v.reset(g_key_file_get_value(kf, groups[i], keys[j], nullptr));
      kvs.emplace_back(keys[j], v ? v.get() : "");
    }
    g_strfreev(keys);
    out.emplace_back(groups[i], std::move(kvs));
  }
  g_strfreev(groups);
  return out;
}

DeploymentInfo Snapshot(OstreeSysroot *sysroot, OstreeDeployment *d) {
  DeploymentInfo info;
  info.handle = ShareDeployment(d);
  info.owner = sysroot;
  info.index = ostree_deployment_get_index(d);
  info.deployserial = ostree_deployment_get_deployserial(d);
  info.bootserial = ostree_deployment_get_bootserial(d);
  info.osname = ostree_deployment_get_osname(d);
  info.csum = ostree_deployment_get_csum(d);
  const char *bootcsum = ostree_deployment_get_bootcsum(d);
  info.bootcsum = bootcsum ? bootcsum : "";
  GStr dirpath(ostree_sysroot_get_deployment_dirpath(sysroot, d));
  info.dirpath = dirpath.get();
  info.unlocked = ostree_deployment_unlocked_state_to_string(ostree_deployment_get_unlocked(d));
  info.staged = ostree_deployment_is_staged(d);
  info.pinned = ostree_deployment_is_pinned(d);
  if (GKeyFile *origin = ostree_deployment_get_origin(d)) {
    GStr text(g_key_file_to_data(origin, nullptr, nullptr));
    info.origin = text.get();
    info.originGroups = KeyFileGroups(origin);
  }
  if (OstreeBootconfigParser *bc = ostree_deployment_get_bootconfig(d)) {
    const char *options = ostree_bootconfig_parser_get(bc, "options");
    if (options) info.kernelArgs = options;
  }
  return info;
}

bool KeyfileName(const std::string &s, bool key) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c == '[' || c == ']' || c < 0x20 || c == 0x7f || (key && c == '=')) return false;
  return !key || (s.front() != ' ' && s.back() != ' ');
}

void FailNotLoaded() { Fail("Sysroot is not loaded (call load() first)", "NOT_INITIALIZED"); }

}  // namespace oc
