// Reading a commit's objects for the data plane (export, object assignment): libostree calls that
// throw a Failure instead of returning a GError.
#pragma once

#include <ostree.h>

#include <string>

#include "util/gobj.h"

namespace oc {

// The commit checksum `rev` (a ref or checksum) names.
std::string ResolveRev(OstreeRepo *repo, const std::string &rev);

// A metadata object (commit, dirtree, dirmeta) of the repo.
GVar LoadVariant(OstreeRepo *repo, OstreeObjectType t, const std::string &checksum);

// The hex checksum of a binary `ay` checksum inside a commit or dirtree.
std::string ChecksumHex(GVariant *bytes_v);

}  // namespace oc
