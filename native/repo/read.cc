#include "repo/read.h"

#include "util/failure.h"

namespace oc {

std::string ResolveRev(OstreeRepo *repo, const std::string &rev) {
  GErr e;
  char *out = nullptr;
  if (!ostree_repo_resolve_rev(repo, rev.c_str(), FALSE, &out, e.out())) Fail(e);
  GStr s(out);
  return s.get();
}

GVar LoadVariant(OstreeRepo *repo, OstreeObjectType t, const std::string &checksum) {
  GErr e;
  GVariant *v = nullptr;
  if (!ostree_repo_load_variant(repo, t, checksum.c_str(), &v, e.out())) Fail(e);
  return TakeVariant(v);
}

std::string ChecksumHex(GVariant *bytes_v) {
  GStr s(ostree_checksum_from_bytes_v(bytes_v));
  return s.get();
}

}  // namespace oc
