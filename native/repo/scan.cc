// scanTree(): one walk of a commit's tree for automatic chunking (src/container/auto-chunking.ts):
// every file path with its content object, each object's size, symlink target, whether it is ELF
// and the value of one xattr (bootc's `user.component`), and the same xattr on directories — compact arrays
// instead of one JS call per object.
#include <cstring>
#include <unordered_map>

#include "repo/read.h"
#include "repo/wrap_js.h"
#include "util/args.h"
#include "util/async.h"
#include "util/failure.h"

namespace oc {
namespace {

struct ScanResult {
  std::vector<std::string> files;       // tree paths, walk order
  std::vector<uint32_t> file_object;    // object index of each path
  std::string checksums;                // 32 raw bytes per object, first-seen order
  std::vector<double> sizes;            // content size per object (0 for symlinks)
  std::vector<uint8_t> elf;             // 1 when the object's content starts with ELF's magic
  std::vector<std::pair<uint32_t, std::string>> targets;  // symlink objects
  std::vector<std::pair<uint32_t, std::string>> object_xattr;
  std::vector<std::string> dirs;        // directory paths, walk order ("/" first)
  std::vector<std::pair<uint32_t, std::string>> dir_xattr;
};

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

Napi::Array Strings(Napi::Env env, const std::vector<std::string> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(i, Napi::String::New(env, v[i]));
  return a;
}

Napi::Array IndexedStrings(Napi::Env env, const std::vector<std::pair<uint32_t, std::string>> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::Number::New(env, v[i].first));
    pair.Set(1u, Napi::String::New(env, v[i].second));
    a.Set(i, pair);
  }
  return a;
}

}  // namespace

// scanTree(rev, xattrName, cancellable?) → Promise<{ files, fileObject: Uint32Array, checksums:
// Buffer (32 bytes per object), sizes: Float64Array, symlinkTargets: [object, target][],
// elf: Buffer (1 per object whose content starts with ELF's magic), objectXattr: [object, value][],
// dirs, dirXattr: [dir, value][] }>; xattrName '' reads no xattrs.
Napi::Value RepoWrap::ScanTree(const Napi::CallbackInfo &info) {
  std::string rev = StringArg(info[0], "scanTree: rev");
  std::string xattr = StringArg(info[1], "scanTree: xattrName");
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  auto r = std::make_shared<ScanResult>();
  return RunRepoJob(
      info.Env(), "ostree-container:scan-tree", RepoJob(info.Env(), repo.get(), "scanTree"),
      [=] { Scanner(repo.get(), xattr, cancellable.get(), *r).Run(rev); },
      [r](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("files", Strings(env, r->files));
        auto fo = Napi::Uint32Array::New(env, r->file_object.size());
        if (!r->file_object.empty()) memcpy(fo.Data(), r->file_object.data(), r->file_object.size() * sizeof(uint32_t));
        o.Set("fileObject", fo);
        o.Set("checksums", Napi::Buffer<char>::Copy(env, r->checksums.data(), r->checksums.size()));
        auto sizes = Napi::Float64Array::New(env, r->sizes.size());
        if (!r->sizes.empty()) memcpy(sizes.Data(), r->sizes.data(), r->sizes.size() * sizeof(double));
        o.Set("sizes", sizes);
        o.Set("elf", Napi::Buffer<uint8_t>::Copy(env, r->elf.data(), r->elf.size()));
        o.Set("symlinkTargets", IndexedStrings(env, r->targets));
        o.Set("objectXattr", IndexedStrings(env, r->object_xattr));
        o.Set("dirs", Strings(env, r->dirs));
        o.Set("dirXattr", IndexedStrings(env, r->dir_xattr));
        return o;
      });
}

}  // namespace oc
