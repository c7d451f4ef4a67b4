#include "repo/scan.h"

#include <cstring>
#include <unordered_map>

#include "repo/read.h"
#include "util/failure.h"
#include "util/gobj.h"

namespace oc {
namespace {

// The value of `name` in an a(ayay) xattr list, if present; it must be UTF-8 (`where` names the
// file or directory in the error).
bool FindXattr(GVariant *xattrs, const std::string &name, const std::string &where, std::string *out) {
  if (!xattrs || name.empty()) return false;
  gsize n = g_variant_n_children(xattrs);
  for (gsize i = 0; i < n; i++) {
    GVar pair(g_variant_get_child_value(xattrs, i));
    GVar k(g_variant_get_child_value(pair.get(), 0));
    gsize klen = 0;
    const char *kb = static_cast<const char *>(g_variant_get_fixed_array(k.get(), &klen, 1));
    // Names are stored with their NUL.
    if (klen != name.size() + 1 || memcmp(kb, name.c_str(), klen) != 0) continue;
    GVar v(g_variant_get_child_value(pair.get(), 1));
    gsize vlen = 0;
    const char *vb = static_cast<const char *>(g_variant_get_fixed_array(v.get(), &vlen, 1));
    if (vlen > 0 && vb[vlen - 1] == '\0') vlen--;
    if (!g_utf8_validate(vb, static_cast<gssize>(vlen), nullptr) || memchr(vb, '\0', vlen))
      Fail("xattr " + name + " of " + where + " is not a UTF-8 string", "INVALID_DATA");
    out->assign(vb, vlen);
    return true;
  }
  return false;
}

class Scanner {
 public:
  Scanner(OstreeRepo *repo, std::string xattr, GCancellable *c, ScanResult &r)
      : repo_(repo), xattr_(std::move(xattr)), c_(c), r_(r) {}

  void Run(const std::string &rev) {
    GVar commit = LoadVariant(repo_, OSTREE_OBJECT_TYPE_COMMIT, ResolveRev(repo_, rev));
    GVar contents_v(g_variant_get_child_value(commit.get(), 6));
    GVar meta_v(g_variant_get_child_value(commit.get(), 7));
    std::string path;
    Walk(ChecksumHex(contents_v.get()), ChecksumHex(meta_v.get()), path);
  }

 private:
  void Walk(const std::string &tree, const std::string &meta, std::string &path) {
    CheckCancelled(c_);
    uint32_t dir_index = static_cast<uint32_t>(r_.dirs.size());
    r_.dirs.push_back(path.empty() ? "/" : path);
    if (!xattr_.empty()) {
      GVar m = LoadVariant(repo_, OSTREE_OBJECT_TYPE_DIR_META, meta);
      GVar xattrs(g_variant_get_child_value(m.get(), 3));
      std::string value;
      if (FindXattr(xattrs.get(), xattr_, r_.dirs.back(), &value)) r_.dir_xattr.emplace_back(dir_index, value);
    }
    GVar t = LoadVariant(repo_, OSTREE_OBJECT_TYPE_DIR_TREE, tree);
    size_t base = path.size();
    ForEachTreeFileRaw(t.get(), tree, [&](const char *name, const uint8_t *b) {
      path.resize(base);
      path.append("/").append(name);
      r_.files.push_back(path);
      r_.file_object.push_back(Object(std::string(reinterpret_cast<const char *>(b), 32), path));
    });
    ForEachTreeDir(t.get(), [&](const char *name, GVariant *tree_v, GVariant *meta_v) {
      path.resize(base);
      path.append("/").append(name);
      Walk(ChecksumHex(tree_v), ChecksumHex(meta_v), path);
    });
    path.resize(base);
  }

  // The index of the object `raw` (binary checksum), queried the first time it is seen.
  uint32_t Object(const std::string &raw, const std::string &path) {
    auto it = index_.find(raw);
    if (it != index_.end()) return it->second;
    uint32_t i = static_cast<uint32_t>(r_.sizes.size());
    index_.emplace(raw, i);
    r_.checksums.append(raw);
    GStr hex(ostree_checksum_from_bytes(reinterpret_cast<const guchar *>(raw.data())));
    GErr e;
    GFileInfo *fi = nullptr;
    GVariant *x = nullptr;
    GInputStream *in = nullptr;
    if (!ostree_repo_load_file(repo_, hex.get(), &in, &fi, xattr_.empty() ? nullptr : &x, c_, e.out())) Fail(e);
    GObj<GInputStream> input(in);
    GObj<GFileInfo> info(fi);
    GVar xattrs = TakeVariant(x);
    bool symlink = g_file_info_get_file_type(fi) == G_FILE_TYPE_SYMBOLIC_LINK;
    r_.sizes.push_back(symlink ? 0.0 : static_cast<double>(g_file_info_get_size(fi)));
    // Compiled code changes with every rebuild, data mostly does not: chunking keeps them apart.
    char magic[4] = {0, 0, 0, 0};
    gsize got = 0;
    if (in && g_file_info_get_size(fi) >= 4 && !g_input_stream_read_all(in, magic, sizeof magic, &got, c_, e.out())) Fail(e);
    r_.elf.push_back(got == 4 && memcmp(magic, "\x7f" "ELF", 4) == 0 ? 1 : 0);
    if (symlink) r_.targets.emplace_back(i, g_file_info_get_symlink_target(fi));
    std::string value;
    if (FindXattr(xattrs.get(), xattr_, path, &value)) r_.object_xattr.emplace_back(i, value);
    return i;
  }

  OstreeRepo *repo_;
  std::string xattr_;
  GCancellable *c_;
  ScanResult &r_;
  std::unordered_map<std::string, uint32_t> index_;
};

}  // namespace

ScanResult ScanTree(OstreeRepo *repo, const std::string &rev, const std::string &xattr, GCancellable *c) {
  ScanResult r;
  Scanner(repo, xattr, c, r).Run(rev);
  return r;
}

}  // namespace oc
