// SELinux policies for labelling commits, loaded from trees that come from images. libostree's
// loader aborts the process on some policy directories (a `policy.0` file, `SELINUX=enforcing`
// without `SELINUXTYPE`) and sets libselinux's process-global policy root, so every load goes
// through here: checked first, and one at a time.
#pragma once

#include <ostree.h>

#include <string>

#include "util/gobj.h"

namespace oc {

// ostree_sepolicy_new_at(rootfs_dfd); throws Failure.
GObj<OstreeSePolicy> SePolicyAt(int rootfs_dfd, GCancellable *cancellable);

// The policy of `commit` (a checksum or ref; its usr/etc/selinux checked out below `scratch_dfd`, an empty
// directory), as ostree_sepolicy_new_from_commit; no labels when the commit has none.
GObj<OstreeSePolicy> SePolicyFromCommit(OstreeRepo *repo, const std::string &commit, int scratch_dfd,
                                        GCancellable *cancellable);

}  // namespace oc
