// Reading a commit's objects for the data plane (export, object assignment): libostree calls that
// throw a Failure instead of returning a GError.
#pragma once

#include <ostree.h>

#include <string>

#include "util/failure.h"
#include "util/gobj.h"

namespace oc {

// The commit checksum `rev` (a ref or checksum) names.
std::string ResolveRev(OstreeRepo *repo, const std::string &rev);

// A metadata object (commit, dirtree, dirmeta) of the repo.
GVar LoadVariant(OstreeRepo *repo, OstreeObjectType t, const std::string &checksum);

// The hex checksum of a binary `ay` checksum inside a commit or dirtree.
std::string ChecksumHex(GVariant *bytes_v);

// The file entries of a dirtree object, in order: f(name, checksum) with the binary checksum.
template <typename F>
void ForEachTreeFile(GVariant *dirtree, F &&f) {
  GVar files(g_variant_get_child_value(dirtree, 0));
  GVariantIter it;
  g_variant_iter_init(&it, files.get());
  const char *name;
  GVariant *csum_v;
  while (g_variant_iter_next(&it, "(&s@ay)", &name, &csum_v)) {
    GVar owned(csum_v);
    f(name, csum_v);
  }
}

// ForEachTreeFile with the checksum as its 32 raw bytes: f(name, bytes); a checksum of another
// length fails naming `tree` (the dirtree's hex checksum).
template <typename F>
void ForEachTreeFileRaw(GVariant *dirtree, const std::string &tree, F &&f) {
  ForEachTreeFile(dirtree, [&](const char *name, GVariant *csum_v) {
    gsize len = 0;
    const uint8_t *b = static_cast<const uint8_t *>(g_variant_get_fixed_array(csum_v, &len, 1));
    if (len != 32) Fail("Corrupted dirtree object " + tree);
    f(name, b);
  });
}

// The subdirectory entries of a dirtree object, in order: f(name, tree, meta) with the binary
// dirtree and dirmeta checksums.
template <typename F>
void ForEachTreeDir(GVariant *dirtree, F &&f) {
  GVar dirs(g_variant_get_child_value(dirtree, 1));
  GVariantIter it;
  g_variant_iter_init(&it, dirs.get());
  const char *name;
  GVariant *tree_v, *meta_v;
  while (g_variant_iter_next(&it, "(&s@ay@ay)", &name, &tree_v, &meta_v)) {
    GVar owned_t(tree_v), owned_m(meta_v);
    f(name, tree_v, meta_v);
  }
}

}  // namespace oc
