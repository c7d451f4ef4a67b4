// The export data plane. One OstreeTarWriter per layer stream owns that stream's dedup sets
// (spec §1.6); exportLayers() runs several layers at once on its own threads.
#include "layer_export.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "modules.h"
#include "repo.h"
#include "tar_rewrite.h"
#include "tar_writer.h"
#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"

namespace oc {
namespace {

const char kRepoConfig[] = "[core]\nrepo_version=1\nmode=bare-split-xattrs\n";

// `usr/etc` → `etc`, `usr/etc/x` → `etc/x` (whole components only).
std::string MapOsPath(const std::string &p) {
  if (p == "usr/etc") return "etc";
  if (p.compare(0, 8, "usr/etc/") == 0) return "etc/" + p.substr(8);
  return p;
}

std::string ChecksumOf(GVariant *bytes_v) {
  GStr s(ostree_checksum_from_bytes_v(bytes_v));
  return s.get();
}

// A metadata object (commit, dirtree, dirmeta) of the repo; throws a Failure on error.
GVar LoadVariant(OstreeRepo *repo, OstreeObjectType t, const std::string &checksum) {
  GErr e;
  GVariant *v = nullptr;
  if (!ostree_repo_load_variant(repo, t, checksum.c_str(), &v, e.out())) Fail(e);
  return TakeVariant(v);
}

// What an OS-path entry needs from its content object (the object may have been written earlier).
struct ObjInfo {
  char type;  // '0' or '2'
  uint32_t mode, uid, gid;
  bool empty;  // regular file of size 0
};

class OstreeTarWriter {
 public:
  OstreeTarWriter(OstreeRepo *repo, TarWriter &tar, GCancellable *c) : repo_(repo), tar_(tar), c_(c), buf_(256 * 1024) {}

  // Full export (with_files) or the commit layer's structure-only walk (spec §1.4.1).
  void Commit(const std::string &checksum, bool with_files) {
    with_files_ = with_files;
    GVar commit = LoadVariant(repo_, OSTREE_OBJECT_TYPE_COMMIT, checksum);
    GVar contents_v(g_variant_get_child_value(commit.get(), 6));
    GVar meta_v(g_variant_get_child_value(commit.get(), 7));
    std::string root_tree = ChecksumOf(contents_v.get()), root_meta = ChecksumOf(meta_v.get());
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
  // no map entry per object of a large layer is needed to write each object once.
  void Objects(const std::vector<ChunkObject> &objects) {
    Skeleton();
    ObjInfo info{};
    const std::string *prev = nullptr;
    for (const auto &o : objects) {
      if (!prev || *prev != o.checksum) info = WriteContent(o.checksum);
      prev = &o.checksum;
      for (const auto &p : o.paths) {
        std::string rel = p;
        while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
        OsPath(MapOsPath(rel), o.checksum, info);
      }
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
    char hex[3];
    for (int i = 0; i < 256; i++) {
      snprintf(hex, sizeof hex, "%02x", i);
      tar_.Dir(std::string(kObjectsPrefix) + hex, 0755);
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
    GVar files(g_variant_get_child_value(t.get(), 0));
    GVar dirs(g_variant_get_child_value(t.get(), 1));
    if (with_files_) {
      GVariantIter it;
      g_variant_iter_init(&it, files.get());
      const char *name;
      GVariant *csum_v;
      while (g_variant_iter_next(&it, "(&s@ay)", &name, &csum_v)) {
        GVar owned(csum_v);
        std::string csum = ChecksumOf(csum_v);
        const ObjInfo &info = Content(csum);
        OsPath(MapOsPath(Join(dir, name)), csum, info);
      }
    }
    GVariantIter it;
    g_variant_iter_init(&it, dirs.get());
    const char *name;
    GVariant *tree_v, *meta_v;
    while (g_variant_iter_next(&it, "(&s@ay@ay)", &name, &tree_v, &meta_v)) {
      GVar owned_t(tree_v), owned_m(meta_v);
      std::string sub_tree = ChecksumOf(tree_v), sub_meta = ChecksumOf(meta_v);
      GVar m = LoadVariant(repo_, OSTREE_OBJECT_TYPE_DIR_META, sub_meta);
      if (dirmetas_.insert(sub_meta).second) Metadata(sub_meta, "dirmeta", m.get());
      // The repo skeleton provides `sysroot`; the commit's own /sysroot is not walked (§1.4.2).
      if (dir.empty() && strcmp(name, "sysroot") == 0) continue;
      std::string path = Join(dir, name);
      if (path == "var/tmp") saw_var_tmp_ = true;
      uint32_t uid, gid, mode;
      DirMeta(m.get(), &uid, &gid, &mode);
      tar_.Dir(MapOsPath(path), mode & 07777, uid, gid);
      Walk(sub_tree, path);
    }
  }

  static std::string Join(const std::string &dir, const char *name) { return dir.empty() ? name : dir + "/" + name; }

  // Writes the content object once per stream (§1.4.3); returns what its OS paths need.
  const ObjInfo &Content(const std::string &csum) {
    auto found = files_.find(csum);
    if (found != files_.end()) return found->second;
    return files_.emplace(csum, WriteContent(csum)).first->second;
  }

  // Writes the content object (§1.4.3); returns what its OS paths need.
  ObjInfo WriteContent(const std::string &csum) {
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
    const uint8_t *xbytes = static_cast<const uint8_t *>(g_variant_get_data(xattrs.get()));
    size_t xlen = g_variant_get_size(xattrs.get());
    std::string xsum = Sha256::Of(xbytes, xlen);
    std::string xpath = ObjectPath(xsum, "file-xattrs");
    if (xattrs_.insert(xsum).second) tar_.File(xpath, 0644, xbytes, xlen);
    {
      TarEntryHeader link;
      link.path = ObjectPath(csum, "file-xattrs-link");
      link.type = '1';
      link.link = xpath;
      tar_.Header(link);
    }
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
      tar_.Header(h);
    } else {
      oi.type = '0';
      uint64_t size = static_cast<uint64_t>(g_file_info_get_size(info.get()));
      oi.empty = size == 0;
      h.size = size;
      tar_.Header(h);
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

  // §1.4.5: hardlink to the object, or an empty regular file for empty regular objects.
  void OsPath(const std::string &path, const std::string &csum, const ObjInfo &oi) {
    TarEntryHeader h;
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
  std::unordered_set<std::string> dirtrees_, dirmetas_, xattrs_;
  std::unordered_map<std::string, ObjInfo> files_;
};

std::string ResolveRev(OstreeRepo *repo, const std::string &rev) {
  GErr e;
  char *out = nullptr;
  if (!ostree_repo_resolve_rev(repo, rev.c_str(), FALSE, &out, e.out())) Fail(e);
  GStr s(out);
  return s.get();
}

}  // namespace

LayerResult ExportLayer(OstreeRepo *repo, const LayerSpec &spec, unsigned threads, GCancellable *cancellable,
                        CompressorPool *pool) {
  OutputFile file(spec.fd, spec.path);
  LayerResult r;
  LayerWriter out(file.fd(), spec.compression, threads, spec.level, cancellable, pool);
  TarWriter tar(out.tar());
  OstreeTarWriter w(repo, tar, cancellable);
  if (spec.kind != LayerSpec::Kind::Chunk) {
    r.commit = ResolveRev(repo, spec.rev);
    WithContext("Exporting commit " + r.commit, [&] { w.Commit(r.commit, spec.kind == LayerSpec::Kind::Full); });
  }
  if (spec.kind != LayerSpec::Kind::Full) WithContext("Exporting objects", [&] { w.Objects(spec.objects); });
  tar.Finish();
  static_cast<BlobDigests &>(r) = out.Finish();
  r.media_type = MediaTypeOf(spec.compression);
  file.Keep(cancellable);
  return r;
}

namespace {

struct Csum {
  uint8_t b[32];
  bool operator==(const Csum &o) const { return memcmp(b, o.b, sizeof b) == 0; }
  bool operator<(const Csum &o) const { return memcmp(b, o.b, sizeof b) < 0; }
};
struct CsumHash {
  size_t operator()(const Csum &c) const {
    size_t h;
    memcpy(&h, c.b, sizeof h);  // already uniformly distributed
    return h;
  }
};

std::string Hex(const Csum &c) {
  static const char digits[] = "0123456789abcdef";
  std::string s(64, '0');
  for (int i = 0; i < 32; i++) {
    s[2 * i] = digits[c.b[i] >> 4];
    s[2 * i + 1] = digits[c.b[i] & 15];
  }
  return s;
}

// Walks the tree as Chunking.create does (files, then subdirectories, in dirtree order; every
// occurrence of a shared subtree) and hands each object's paths to its layer.
class Assigner {
 public:
  Assigner(OstreeRepo *repo, const ObjectAssignment &a, std::vector<LayerSpec> &specs, GCancellable *c)
      : repo_(repo), a_(a), specs_(specs), c_(c) {
    // One sorted array (freed in one piece) rather than a node per object.
    size_t n = a.layers.size();
    listed_.resize(n);
    std::vector<size_t> per_layer(specs.size());
    for (size_t i = 0; i < n; i++) {
      memcpy(listed_[i].key.b, a.checksums.data() + 32 * i, 32);
      listed_[i].slot = Slot{a.layers[i], -1};
      per_layer[a.layers[i]]++;
    }
    // stable: of a checksum listed twice, the first entry counts
    std::stable_sort(listed_.begin(), listed_.end(), [](const Listed &x, const Listed &y) { return x.key < y.key; });
    for (size_t l = 0; l < specs.size(); l++) specs[l].objects.reserve(per_layer[l]);
  }

  void Run() {
    GVar commit = LoadVariant(repo_, OSTREE_OBJECT_TYPE_COMMIT, ResolveRev(repo_, a_.rev));
    GVar contents_v(g_variant_get_child_value(commit.get(), 6));
    std::string path;
    Walk(ChecksumOf(contents_v.get()), path);
    if (!uncovered_.empty()) {
      auto first = uncovered_.begin();
      for (auto it = uncovered_.begin(); it != uncovered_.end(); ++it)
        if (memcmp(it->first.b, first->first.b, 32) < 0) first = it;
      Fail("Content mapping does not cover " + std::to_string(uncovered_.size()) +
           " content object(s) of the commit, e.g. " + Hex(first->first) + " (" + first->second + ")");
    }
    // Hex order is byte order: the exporter writes each layer's objects in checksum order.
    for (auto &s : specs_)
      std::sort(s.objects.begin(), s.objects.end(), [](const ChunkObject &x, const ChunkObject &y) { return x.checksum < y.checksum; });
  }

 private:
  struct Slot {
    uint32_t layer;
    int64_t index;  // in specs_[layer].objects once seen
  };
  struct Listed {
    Csum key;
    Slot slot;
  };

  void Walk(const std::string &tree, std::string &path) {
    CheckCancelled(c_);
    GVar t = LoadVariant(repo_, OSTREE_OBJECT_TYPE_DIR_TREE, tree);
    GVar files(g_variant_get_child_value(t.get(), 0));
    GVar dirs(g_variant_get_child_value(t.get(), 1));
    size_t base = path.size();
    GVariantIter it;
    g_variant_iter_init(&it, files.get());
    const char *name;
    GVariant *csum_v;
    while (g_variant_iter_next(&it, "(&s@ay)", &name, &csum_v)) {
      GVar owned(csum_v);
      gsize len = 0;
      const uint8_t *b = static_cast<const uint8_t *>(g_variant_get_fixed_array(csum_v, &len, 1));
      if (len != 32) Fail("Corrupted dirtree object " + tree);
      Csum k;
      memcpy(k.b, b, 32);
      path.resize(base);
      path.append("/").append(name);
      Add(k, path);
    }
    g_variant_iter_init(&it, dirs.get());
    GVariant *tree_v, *meta_v;
    while (g_variant_iter_next(&it, "(&s@ay@ay)", &name, &tree_v, &meta_v)) {
      GVar owned_t(tree_v), owned_m(meta_v);
      path.resize(base);
      path.append("/").append(name);
      Walk(ChecksumOf(tree_v), path);
    }
    path.resize(base);
  }

  void Add(const Csum &k, const std::string &path) {
    Slot *slot = nullptr;
    auto it = std::lower_bound(listed_.begin(), listed_.end(), k, [](const Listed &x, const Csum &y) { return x.key < y; });
    if (it != listed_.end() && it->key == k) {
      slot = &it->slot;
    } else if (a_.default_layer < 0) {
      uncovered_.emplace(k, path);  // keeps the first path
      return;
    } else {
      slot = &others_.emplace(k, Slot{static_cast<uint32_t>(a_.default_layer), -1}).first->second;
    }
    Slot &s = *slot;
    auto &objects = specs_[s.layer].objects;
    if (s.index < 0) {
      s.index = static_cast<int64_t>(objects.size());
      objects.push_back(ChunkObject{Hex(k), {}});
    }
    objects[static_cast<size_t>(s.index)].paths.push_back(path);
  }

  OstreeRepo *repo_;
  const ObjectAssignment &a_;
  std::vector<LayerSpec> &specs_;
  GCancellable *c_;
  std::vector<Listed> listed_;                         // sorted by checksum
  std::unordered_map<Csum, Slot, CsumHash> others_;    // unlisted objects of the default layer
  std::unordered_map<Csum, std::string, CsumHash> uncovered_;
};

}  // namespace

void AssignObjects(OstreeRepo *repo, const ObjectAssignment &a, std::vector<LayerSpec> &specs, GCancellable *cancellable) {
  Assigner(repo, a, specs, cancellable).Run();
}

Napi::Object LayerResultToJs(Napi::Env env, const LayerResult &r) {
  Napi::Object o = Napi::Object::New(env);
  SetBlobDigests(env, o, r);
  o.Set("mediaType", r.media_type);
  if (!r.commit.empty()) o.Set("commit", r.commit);
  return o;
}

namespace {

unsigned NumCpus() { return std::max(1u, static_cast<unsigned>(g_get_num_processors())); }

std::string Str(const Napi::Object &o, const char *key, bool required, const std::string &where) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw Napi::TypeError::New(o.Env(), where + "." + key + " is required");
    return "";
  }
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), where + "." + key + " must be a string");
  return v.As<Napi::String>();
}

Compression ParseCompressionJs(const Napi::Object &o, const std::string &where) {
  std::string name = Str(o, "compression", false, where);
  if (name.empty()) return Compression::Gzip;
  try {
    return ParseCompression(name);
  } catch (const Failure &f) {
    throw Napi::TypeError::New(o.Env(), where + ": " + f.info.message);
  }
}

LayerSpec ParseSpec(const Napi::Value &v, size_t index) {
  Napi::Env env = v.Env();
  std::string where = "layers[" + std::to_string(index) + "]";
  if (!v.IsObject()) throw Napi::TypeError::New(env, where + " must be an object");
  Napi::Object o = v.As<Napi::Object>();
  LayerSpec s;
  std::string kind = Str(o, "kind", true, where);
  if (kind == "full") s.kind = LayerSpec::Kind::Full;
  else if (kind == "commit") s.kind = LayerSpec::Kind::Commit;
  else if (kind == "chunk") s.kind = LayerSpec::Kind::Chunk;
  else throw Napi::TypeError::New(env, where + ".kind must be 'full', 'commit' or 'chunk'");
  if (s.kind != LayerSpec::Kind::Chunk) s.rev = Str(o, "rev", true, where);
  Napi::Value objs = o.Get("objects");
  if (!objs.IsUndefined() && !objs.IsNull()) {
    if (s.kind == LayerSpec::Kind::Full) throw Napi::TypeError::New(env, where + ": a full export takes no objects");
    if (!objs.IsArray()) throw Napi::TypeError::New(env, where + ".objects must be an array");
    Napi::Array a = objs.As<Napi::Array>();
    s.objects.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) {
      std::string ow = where + ".objects[" + std::to_string(i) + "]";
      Napi::Value e = a.Get(i);
      if (!e.IsObject()) throw Napi::TypeError::New(env, ow + " must be an object");
      Napi::Object eo = e.As<Napi::Object>();
      ChunkObject co;
      co.checksum = Str(eo, "checksum", true, ow);
      if (!ostree_validate_checksum_string(co.checksum.c_str(), nullptr))
        throw Napi::TypeError::New(env, ow + ".checksum is not a sha256 checksum: " + co.checksum);
      Napi::Value paths = eo.Get("paths");
      if (!paths.IsArray()) throw Napi::TypeError::New(env, ow + ".paths must be an array of strings");
      Napi::Array pa = paths.As<Napi::Array>();
      for (uint32_t j = 0; j < pa.Length(); j++) {
        Napi::Value p = pa.Get(j);
        if (!p.IsString()) throw Napi::TypeError::New(env, ow + ".paths must be an array of strings");
        co.paths.push_back(p.As<Napi::String>());
      }
      s.objects.push_back(std::move(co));
    }
    // The writer relies on checksum order (spec §1.4.6: objects in ascending checksum order).
    std::stable_sort(s.objects.begin(), s.objects.end(), [](const ChunkObject &x, const ChunkObject &y) { return x.checksum < y.checksum; });
  }
  s.compression = ParseCompressionJs(o, where);
  Napi::Value level = o.Get("level");
  if (!level.IsUndefined() && !level.IsNull()) {
    int max = s.compression == Compression::Zstd ? 19 : 12;
    // NaN fails every comparison, so it is refused here too
    double d = level.IsNumber() ? level.As<Napi::Number>().DoubleValue() : 0;
    if (!(d >= 1 && d <= max) || std::trunc(d) != d || s.compression == Compression::None)
      throw Napi::TypeError::New(env, where + ".level must be an integer from 1 to " + std::to_string(max) +
                                          " for " + (s.compression == Compression::Zstd ? "zstd" : "gzip"));
    s.level = static_cast<int>(d);
  }
  ParseFdOrPath(o, where, &s.fd, &s.path);
  return s;
}

// options.assign: { rev, checksums: Uint8Array (32 bytes each), layers: Uint32Array, defaultLayer? }
std::shared_ptr<ObjectAssignment> ParseAssign(const Napi::Value &v, const std::vector<LayerSpec> &specs) {
  Napi::Env env = v.Env();
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "assign must be an object");
  Napi::Object o = v.As<Napi::Object>();
  auto a = std::make_shared<ObjectAssignment>();
  a->rev = Str(o, "rev", true, "assign");
  Napi::Value cs = o.Get("checksums"), ls = o.Get("layers");
  if (!cs.IsTypedArray() || cs.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "assign.checksums must be a Uint8Array");
  if (!ls.IsTypedArray() || ls.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "assign.layers must be a Uint32Array");
  Napi::Uint8Array c = cs.As<Napi::Uint8Array>();
  Napi::Uint32Array l = ls.As<Napi::Uint32Array>();
  if (c.ElementLength() != 32 * l.ElementLength())
    throw Napi::TypeError::New(env, "assign.checksums must hold 32 bytes per entry of assign.layers");
  auto check = [&](int64_t i, const std::string &what) {
    if (i < 0 || static_cast<size_t>(i) >= specs.size() || specs[static_cast<size_t>(i)].kind == LayerSpec::Kind::Full)
      throw Napi::TypeError::New(env, what + " must be the index of a commit or chunk layer");
    if (!specs[static_cast<size_t>(i)].objects.empty())
      throw Napi::TypeError::New(env, what + ": layers[" + std::to_string(i) + "] has its own objects");
  };
  a->checksums.assign(c.Data(), c.Data() + c.ElementLength());
  a->layers.assign(l.Data(), l.Data() + l.ElementLength());
  for (uint32_t i : a->layers) check(i, "assign.layers");
  Napi::Value d = o.Get("defaultLayer");
  if (!d.IsUndefined() && !d.IsNull()) {
    a->default_layer = static_cast<int64_t>(IntegerArg(d, "assign.defaultLayer", 0, kMaxSafeInteger));
    check(a->default_layer, "assign.defaultLayer");
  }
  return a;
}

// Forwards a caller's cancellation to the internal one that also stops sibling layers.
struct LinkedCancellable {
  GObj<GCancellable> inner{g_cancellable_new()};
  GObj<GCancellable> outer;
  gulong handler = 0;
  explicit LinkedCancellable(GObj<GCancellable> o) : outer(std::move(o)) {
    if (outer)
      handler = g_cancellable_connect(outer.get(), G_CALLBACK(+[](GCancellable *, gpointer inner) {
                                        g_cancellable_cancel(G_CANCELLABLE(inner));
                                      }),
                                      inner.get(), nullptr);
  }
  ~LinkedCancellable() {
    if (outer && handler) g_cancellable_disconnect(outer.get(), handler);
  }
};

// exportLayers(repo, layers, options?, cancellable?) → Promise<LayerResult[]>
Napi::Value ExportLayers(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto repo = std::make_shared<GObj<OstreeRepo>>(RepoFromJs(info[0]));
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "exportLayers: layers must be an array");
  Napi::Array arr = info[1].As<Napi::Array>();
  auto specs = std::make_shared<std::vector<LayerSpec>>();
  for (uint32_t i = 0; i < arr.Length(); i++) specs->push_back(ParseSpec(arr.Get(i), i));
  unsigned parallel = NumCpus();
  unsigned threads = 0;
  if (info[2].IsObject()) {
    Napi::Object opts = info[2].As<Napi::Object>();
    threads = ThreadsArg(opts.Get("threads"), "exportLayers: threads", threads);
    parallel = ThreadsArg(opts.Get("parallel"), "exportLayers: parallel", parallel);
  }
  // Default: every layer may use all CPUs for compression, so a large layer is not left on one
  // core when the small ones finish (measured faster than splitting the CPUs between layers);
  // the layers share one pool of that many compression threads. The bytes do not depend on it.
  if (!threads) threads = NumCpus();
  std::shared_ptr<ObjectAssignment> assign;
  if (info[2].IsObject()) assign = ParseAssign(info[2].As<Napi::Object>().Get("assign"), *specs);
  auto cancel = std::make_shared<LinkedCancellable>(Cancellable::From(info[3]));
  auto results = std::make_shared<std::vector<LayerResult>>(specs->size());
  RepoJob job(env, repo->get(), "exportLayers");
  return RunRepoJob(
      env, "ostree-container:export-layers", std::move(job),
      [repo, specs, assign, threads, parallel, cancel, results](ErrorInfo &err) {
        if (assign) {
          try {
            AssignObjects(repo->get(), *assign, *specs, cancel->inner.get());
          } catch (Failure &f) {
            err = f.info;
            return;
          }
        }
        CompressorPool compression(threads);
        std::atomic<size_t> next{0};
        std::mutex m;
        std::unique_ptr<Failure> first;
        auto run = [&] {
          for (;;) {
            size_t i = next++;
            if (i >= specs->size() || g_cancellable_is_cancelled(cancel->inner.get())) return;
            try {
              (*results)[i] = ExportLayer(repo->get(), (*specs)[i], threads, cancel->inner.get(), &compression);
              // Its objects were only needed for writing it.
              std::vector<ChunkObject>().swap((*specs)[i].objects);
            } catch (...) {
              ErrorInfo info = CurrentExceptionInfo();
              std::lock_guard<std::mutex> lk(m);
              if (!first) first = std::make_unique<Failure>(std::move(info));
              g_cancellable_cancel(cancel->inner.get());
            }
          }
        };
        size_t n = std::min<size_t>(parallel, specs->size());
        std::vector<std::thread> pool;
        try {
          for (size_t i = 1; i < n; i++) pool.emplace_back(run);
        } catch (const std::system_error &) {
          // fewer threads than asked for: the started ones and this one share the queue
        }
        run();
        for (auto &t : pool) t.join();
        if (first) err = first->info;
      },
      [results](Napi::Env env) -> Napi::Value {
        Napi::Array a = Napi::Array::New(env, results->size());
        for (size_t i = 0; i < results->size(); i++) a.Set(i, LayerResultToJs(env, (*results)[i]));
        return a;
      });
}

}  // namespace

void InitLayerExport(Napi::Env env, Napi::Object exports) {
  exports.Set("exportLayers", Napi::Function::New(env, ExportLayers, "exportLayers"));
  InitTarRewrite(env, exports);
}

}  // namespace oc
