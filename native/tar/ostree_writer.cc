// The ostree-ext tar format version 1 written from a repo (spec §1.4): one writer per layer
// stream owns that stream's dedup sets (spec §1.6).
#include "tar/ostree_writer.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "repo/read.h"
#include "tar/format.h"
#include "tar/objpath.h"
#include "util/failure.h"
#include "util/hex.h"

namespace oc {
namespace {

const char kRepoConfig[] = "[core]\nrepo_version=1\nmode=bare-split-xattrs\n";

// `usr/etc` → `etc`, `usr/etc/x` → `etc/x` (whole components only).
std::string MapOsPath(const std::string &p) {
  if (p == "usr/etc") return "etc";
  if (p.compare(0, 8, "usr/etc/") == 0) return "etc/" + p.substr(8);
  return p;
}

// What an OS-path entry needs from its content object (the object may have been written earlier).
struct ObjInfo {
  char type;  // '0' or '2'
  uint32_t mode, uid, gid;
  bool empty;  // regular file of size 0
};

}  // namespace

struct OstreeTarWriter::Impl {
  Impl(OstreeRepo *repo, TarWriter &tar, GCancellable *c) : repo_(repo), tar_(tar), c_(c), buf_(256 * 1024) {}

  // Full export (with_files) or the commit layer's structure-only walk (spec §1.4.1).
  void Commit(const std::string &checksum, bool with_files) {
    with_files_ = with_files;
    GVar commit = LoadVariant(repo_, OSTREE_OBJECT_TYPE_COMMIT, checksum);
    GVar contents_v(g_variant_get_child_value(commit.get(), 6));
    GVar meta_v(g_variant_get_child_value(commit.get(), 7));
    std::string root_tree = ChecksumHex(contents_v.get()), root_meta = ChecksumHex(meta_v.get());
    GVar root_meta_v = LoadVariant(repo_, OSTREE_OBJECT_TYPE_DIR_META, root_meta);
    uint32_t uid, gid, mode;
    DirMeta(root_meta_v.get(), &uid, &gid, &mode);
    tar_.Dir("./", mode & 07777, uid, gid);
    Skeleton();
    Metadata(checksum, "commit", commit.get());
    {
      GErr e;
      GVariant *detached = nullptr;
      if (!ostree_repo_read_commit_detached_metadata(repo_, checksum.c_str(), &detached, c_, e.out())) Fail(e);
      GVar d = TakeVariant(detached);
      if (d) Metadata(checksum, "commitmeta", d.get());
    }
    dirmetas_.insert(root_meta);
    Metadata(root_meta, "dirmeta", root_meta_v.get());
    Walk(root_tree, "");
    if (!saw_var_tmp_) tar_.Dir("var/tmp", 01777);
  }

  // Content objects, each followed by its OS paths (chunk layers and the remainder, §1.4.6).
  // They come in checksum order (ParseSpec, AssignObjects), so a repeated checksum is adjacent:
  // no map entry per object of a large layer is needed to write each object once. Every path
  // starts from the object's header, as upstream's chunk writer does (§1.10).
  void Objects(const ObjectList &objects) {
    Skeleton();
    ObjInfo info{};
    uint8_t header[512];
    std::string csum;
    for (size_t i = 0; i < objects.size(); i++) {
      if (i == 0 || memcmp(objects.Checksum(i - 1), objects.Checksum(i), 32) != 0) {
        csum = HexOf(objects.Checksum(i), 32);
        info = WriteContent(csum, header);
      }
      objects.ForEachPath(i, [&](std::string_view p) {
        while (!p.empty() && p[0] == '/') p.remove_prefix(1);
        OsPath(MapOsPath(std::string(p)), csum, info, header);
      });
    }
  }

 private:
  static void DirMeta(GVariant *v, uint32_t *uid, uint32_t *gid, uint32_t *mode) {
    g_variant_get(v, "(uuu@a(ayay))", uid, gid, mode, nullptr);
    *uid = GUINT32_FROM_BE(*uid);
    *gid = GUINT32_FROM_BE(*gid);
    *mode = GUINT32_FROM_BE(*mode);
  }

  void Skeleton() {
    if (skeleton_done_) return;
    skeleton_done_ = true;
    for (const char *d : {"sysroot", "sysroot/ostree", "sysroot/ostree/repo", "sysroot/ostree/repo/objects"})
      tar_.Dir(d, 0755);
    for (int i = 0; i < 256; i++) {
      const uint8_t b = static_cast<uint8_t>(i);
      tar_.Dir(std::string(kObjectsPrefix) + HexOf(&b, 1), 0755);
    }
    for (const char *d : {"extensions", "refs", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp", "tmp/cache"})
      tar_.Dir(std::string(kRepoPrefix) + d, 0755);
    tar_.File(std::string(kRepoPrefix) + "config", 0644, kRepoConfig, sizeof kRepoConfig - 1);
  }

  void Metadata(const std::string &checksum, const char *ext, GVariant *v) {
    tar_.File(ObjectPath(checksum, ext), 0644, g_variant_get_data(v), g_variant_get_size(v));
  }

  void Walk(const std::string &tree, const std::string &dir) {
    CheckCancelled(c_);
    GVar t = LoadVariant(repo_, OSTREE_OBJECT_TYPE_DIR_TREE, tree);
    if (dirtrees_.insert(tree).second) Metadata(tree, "dirtree", t.get());
    if (with_files_) {
      ForEachTreeFile(t.get(), [&](const char *name, GVariant *csum_v) {
        std::string csum = ChecksumHex(csum_v);
        // Upstream's walk writes the first path of a new object from the object's header and
        // later paths from a fresh one (§1.10).
        uint8_t header[512];
        auto found = files_.find(csum);
        if (found != files_.end()) {
          OsPath(MapOsPath(Join(dir, name)), csum, found->second, nullptr);
        } else {
          const ObjInfo &info = files_.emplace(csum, WriteContent(csum, header)).first->second;
          OsPath(MapOsPath(Join(dir, name)), csum, info, header);
        }
      });
    }
    ForEachTreeDir(t.get(), [&](const char *name, GVariant *tree_v, GVariant *meta_v) {
      std::string sub_tree = ChecksumHex(tree_v), sub_meta = ChecksumHex(meta_v);
      GVar m = LoadVariant(repo_, OSTREE_OBJECT_TYPE_DIR_META, sub_meta);
      if (dirmetas_.insert(sub_meta).second) Metadata(sub_meta, "dirmeta", m.get());
      // The repo skeleton provides `sysroot`; the commit's own /sysroot is not walked (§1.4.2).
      if (dir.empty() && strcmp(name, "sysroot") == 0) return;
      std::string path = Join(dir, name);
      if (path == "var/tmp") saw_var_tmp_ = true;
      uint32_t uid, gid, mode;
      DirMeta(m.get(), &uid, &gid, &mode);
      tar_.Dir(MapOsPath(path), mode & 07777, uid, gid);
      Walk(sub_tree, path);
    });
  }

  static std::string Join(const std::string &dir, const char *name) { return dir.empty() ? name : dir + "/" + name; }

  // Writes the content object (§1.4.3); returns what its OS paths need, and its tar header
  // block in `header` (512 bytes).
  ObjInfo WriteContent(const std::string &csum, uint8_t *header) {
    CheckCancelled(c_);
    GInputStream *in_raw = nullptr;
    GFileInfo *info_raw = nullptr;
    GVariant *xattrs_raw = nullptr;
    {
      GErr e;
      if (!ostree_repo_load_file(repo_, csum.c_str(), &in_raw, &info_raw, &xattrs_raw, c_, e.out())) Fail(e);
    }
    GObj<GInputStream> in(in_raw);
    GObj<GFileInfo> info(info_raw);
    GVar xattrs = xattrs_raw ? TakeVariant(xattrs_raw) : TakeVariant(g_variant_new_array(G_VARIANT_TYPE("(ayay)"), nullptr, 0));
    // Each object's xattrs in a regular file of its own (upstream since 2025): hardlinks to one
    // shared `.file-xattrs` would exceed a filesystem's link limit (65,000 on ext4) in a layer
    // whose objects share one xattrs set, and then nothing can unpack it.
    tar_.File(ObjectPath(csum, "file-xattrs-link"), 0644, g_variant_get_data(xattrs.get()), g_variant_get_size(xattrs.get()));
    std::vector<std::pair<std::string, std::string>> pax;
    {
      GVariantIter it;
      g_variant_iter_init(&it, xattrs.get());
      GVariant *name_v, *value_v;
      while (g_variant_iter_next(&it, "(@ay@ay)", &name_v, &value_v)) {
        GVar n(name_v), v(value_v);
        gsize nlen, vlen;
        const char *nb = static_cast<const char *>(g_variant_get_fixed_array(name_v, &nlen, 1));
        const char *vb = static_cast<const char *>(g_variant_get_fixed_array(value_v, &vlen, 1));
        std::string name(nb, nlen);
        if (!name.empty() && name.back() == '\0') name.pop_back();
        if (name == "security.selinux") continue;
        pax.emplace_back("SCHILY.xattr." + name, std::string(vb, vlen));
      }
    }
    if (!pax.empty()) tar_.Pax(pax);

    ObjInfo oi;
    oi.uid = g_file_info_get_attribute_uint32(info.get(), "unix::uid");
    oi.gid = g_file_info_get_attribute_uint32(info.get(), "unix::gid");
    oi.mode = g_file_info_get_attribute_uint32(info.get(), "unix::mode") & 07777;
    TarEntryHeader h;
    h.path = ObjectPath(csum, "file");
    h.uid = oi.uid;
    h.gid = oi.gid;
    h.mode = oi.mode;
    if (g_file_info_get_file_type(info.get()) == G_FILE_TYPE_SYMBOLIC_LINK) {
      oi.type = '2';
      oi.empty = false;
      h.type = '2';
      h.link = g_file_info_get_symlink_target(info.get());  // literal bytes (spec §1.4.3 recommendation)
      tar_.Header(h, header);
    } else {
      oi.type = '0';
      uint64_t size = static_cast<uint64_t>(g_file_info_get_size(info.get()));
      oi.empty = size == 0;
      h.size = size;
      tar_.Header(h, header);
      uint64_t left = size;
      while (left > 0) {
        GErr e;
        gssize n = g_input_stream_read(in.get(), buf_.data(), std::min<uint64_t>(left, buf_.size()), c_, e.out());
        if (n < 0) Fail(e);
        if (n == 0) Fail("File object " + csum + " is shorter than its size " + std::to_string(size));
        tar_.Data(buf_.data(), static_cast<size_t>(n));
        left -= static_cast<uint64_t>(n);
      }
      tar_.Pad(size);
    }
    return oi;
  }

  // §1.4.5: hardlink to the object, or an empty regular file for empty regular objects; from
  // the object's header block `base` when given (§1.10).
  void OsPath(const std::string &path, const std::string &csum, const ObjInfo &oi, const uint8_t *base) {
    TarEntryHeader h;
    h.base = base;
    h.path = path;
    h.uid = oi.uid;
    h.gid = oi.gid;
    h.mode = oi.mode;
    if (oi.type == '0' && oi.empty) {
      h.type = '0';
    } else {
      h.type = '1';
      h.link = ObjectPath(csum, "file");
    }
    tar_.Header(h);
  }

  OstreeRepo *repo_;
  TarWriter &tar_;
  GCancellable *c_;
  std::vector<uint8_t> buf_;
  bool with_files_ = true;
  bool skeleton_done_ = false;
  bool saw_var_tmp_ = false;
  std::unordered_set<std::string> dirtrees_, dirmetas_;
  std::unordered_map<std::string, ObjInfo> files_;
};

OstreeTarWriter::OstreeTarWriter(OstreeRepo *repo, TarWriter &tar, GCancellable *c)
    : impl_(std::make_unique<Impl>(repo, tar, c)) {}

OstreeTarWriter::~OstreeTarWriter() = default;

void OstreeTarWriter::Commit(const std::string &checksum, bool with_files) { impl_->Commit(checksum, with_files); }

void OstreeTarWriter::Objects(const ObjectList &objects) { impl_->Objects(objects); }

}  // namespace oc
