// The import data plane: one tar stream into a repo transaction, verifying every object
// through libostree's `expected checksum` writers (spec §2.4, §2.5).
#include "layer/import.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "repo/transaction.h"
#include "repo/tree.h"
#include "scheduler.h"
#include "tar/format.h"
#include "tar/objpath.h"
#include "tar/reader.h"
#include "util/sha256.h"
#include "util/variant_untrusted.h"

namespace oc {
namespace {

bool HasDotDot(const std::string &p) {
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    if (p.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

// The xattrs blobs one import keeps (serialized bytes plus kXattrsEntryCost each: map node, key
// and GVariant of a tiny blob cost ~600 bytes, measured). Real layers have a few hundred to a few
// thousand distinct sets of ~100 bytes; a hostile one could otherwise send blobs without end.
constexpr uint64_t kMaxXattrsCache = 32 * 1024 * 1024;
constexpr uint64_t kXattrsEntryCost = 640;

// Small content objects are written as scheduler tasks while the reader goes on decoding the
// stream (libostree takes concurrent writes within one transaction; pull does the same). At most
// kMaxQueuedWrites wait (≤ 16 × 127 KiB in memory; 64 were no faster, issue 19); beyond that the
// reader writes them itself.
// A write's failure is rethrown by Check()/WaitAll() on the reader's thread.
constexpr size_t kMaxQueuedWrites = 16;

class Importer {
 public:
  Importer(OstreeRepo *repo, const ImportSpec &spec, TarReader &tar, GCancellable *c, ImportResult &res)
      : repo_(repo), spec_(spec), tar_(tar), c_(c), res_(res), buf_(256 * 1024), writers_(kMaxQueuedWrites) {}

  void Run() {
    if (spec_.mode == ImportSpec::Mode::Commit)
      WithContext("Importing commit", [&] {
        CommitStep();
        writers_.WaitAll();
      });
    WithContext("Importing objects", [&] {
      while (NextKept()) {
        writers_.Check();
        Process();
      }
      writers_.WaitAll();
    });
    res_.objects_written += pool_written_;
    res_.bytes_written += pool_bytes_;
  }

  // Before the transaction is aborted: no write may still be running.
  void StopWriters() { writers_.Stop(); }

  // Object-set mode: a commit over a flat tree, one file per object named by its checksum.
  std::string FinishObjectSet() {
    GObj<OstreeMutableTree> mtree(ostree_mutable_tree_new());
    GObj<GFileInfo> fi(g_file_info_new());
    g_file_info_set_attribute_uint32(fi.get(), "unix::uid", 0);
    g_file_info_set_attribute_uint32(fi.get(), "unix::gid", 0);
    g_file_info_set_attribute_uint32(fi.get(), "unix::mode", 040755);
    GVar dirmeta = TakeVariant(ostree_create_directory_metadata(fi.get(), nullptr));
    GErr e;
    guchar *csum_raw = nullptr;
    if (!ostree_repo_write_metadata(repo_, OSTREE_OBJECT_TYPE_DIR_META, nullptr, dirmeta.get(), &csum_raw, c_, e.out()))
      Fail(e);
    GStr dirmeta_csum(ostree_checksum_from_bytes(csum_raw));
    g_free(csum_raw);
    ostree_mutable_tree_set_metadata_checksum(mtree.get(), dirmeta_csum.get());
    for (const auto &c : recorded_)
      if (!ostree_mutable_tree_replace_file(mtree.get(), c.c_str(), c.c_str(), e.out())) Fail(e);
    CommitFields fields;
    fields.timestamp = 0;
    return CommitTree(repo_, mtree.get(), fields, c_);
  }

  // Commit checksum once the commit was written (and marked partial).
  const std::string &marked_partial() const { return marked_partial_; }
  bool was_partial() const { return was_partial_; }

 private:
  // §2.2: the next entry under sysroot/ostree/repo/ that is not a directory, config or refs.
  bool NextKept() {
    for (;;) {
      CheckCancelled(c_);
      if (!tar_.Next(e_)) return false;
      if (HasDotDot(e_.path)) Fail("Invalid path in tar stream (contains '..'): " + e_.path);
      if (e_.type == '5') continue;
      if (!g_utf8_validate(e_.path.data(), static_cast<gssize>(e_.path.size()), nullptr)) {
        GStr valid(g_utf8_make_valid(e_.path.data(), static_cast<gssize>(e_.path.size())));
        Fail(std::string("Invalid non-utf8 path ") + valid.get());
      }
      if (e_.path.compare(0, strlen(kRepoPrefix), kRepoPrefix) != 0) continue;
      rest_ = e_.path.substr(strlen(kRepoPrefix));
      size_t last = rest_.rfind('/');
      std::string lastc = last == std::string::npos ? rest_ : rest_.substr(last + 1);
      if (lastc == "config") continue;
      if (rest_ == "refs" || rest_.compare(0, 5, "refs/") == 0) continue;
      return true;
    }
  }

  std::string ReadMetadata() {
    return tar_.ReadAll(kMaxMetadataSize, "object of size ");
  }

  // Untrusted bytes of the current entry → normal-form variant of `type`.
  GVar VariantOf(const std::string &data, const char *type) {
    return VariantFromUntrusted(data.data(), data.size(), type, rest_ + " at offset " + std::to_string(e_.offset));
  }

  void CommitStep() {
    if (!NextKept()) Fail("Commit object not found");
    if (e_.type != '0') Fail(std::string("Expected regular file for commit object, not ") + TarTypeName(e_.type));
    ObjRef r = ParseObjectPath(rest_);
    if (r.kind != ObjKind::Commit) Fail(std::string("Expected commit object, not ") + ObjKindName(r.kind));
    const std::string commit = r.checksum;
    GVar commit_v = VariantOf(ReadMetadata(), "(a{sv}aya(say)sstayay)");
    res_.commit = commit;

    if (!NextKept()) Fail("End of stream after commit object");
    ObjRef next = ParseObjectPath(rest_);
    if (!spec_.remote.empty()) {
      if (next.kind != ObjKind::CommitMeta)
        Fail("Using remote " + spec_.remote + " for verification; Expected commitmeta object, not " +
             ObjKindName(next.kind));
      if (next.checksum != commit) Fail("Expected commitmeta checksum " + commit + ", found " + next.checksum);
      GVar meta = VariantOf(ReadMetadata(), "a{sv}");
      WithContext("Verifying ostree commit in tar stream", [&] {
        GBytesPtr cb(g_variant_get_data_as_bytes(commit_v.get()));
        GBytesPtr mb(g_variant_get_data_as_bytes(meta.get()));
        GErr e;
        char *text = nullptr;
        if (!ostree_repo_signature_verify_commit_data(repo_, spec_.remote.c_str(), cb.get(), mb.get(),
                                                       static_cast<OstreeRepoVerifyFlags>(0), &text, e.out()))
          Fail(e);
        GStr t(text);
        res_.verify_text = t ? t.get() : "";
        res_.has_verify_text = true;
      });
      WriteCommitObject(commit, commit_v.get());
      WriteDetached(commit, meta.get());
    } else {
      WriteCommitObject(commit, commit_v.get());
      if (next.kind == ObjKind::CommitMeta) {
        GVar meta = VariantOf(ReadMetadata(), "a{sv}");
        WriteDetached(commit, meta.get());
      } else {
        Process();
      }
    }
  }

  // The commit object, marked partial until its layer (or the caller's transaction) completes.
  void WriteCommitObject(const std::string &commit, GVariant *v) {
    GErr e;
    OstreeRepoCommitState state;
    GVariant *existing = nullptr;
    if (ostree_repo_load_commit(repo_, commit.c_str(), &existing, &state, nullptr)) {
      GVar owned(existing);
      was_partial_ = (state & OSTREE_REPO_COMMIT_STATE_PARTIAL) != 0;
    }
    if (!ostree_repo_mark_commit_partial(repo_, commit.c_str(), TRUE, e.out())) Fail(e);
    marked_partial_ = commit;
    WriteMetadataObject(OSTREE_OBJECT_TYPE_COMMIT, commit, v);
  }

  void WriteDetached(const std::string &commit, GVariant *meta) {
    GErr e;
    if (!ostree_repo_write_commit_detached_metadata(repo_, commit.c_str(), meta, c_, e.out())) Fail(e);
  }

  void WriteMetadataObject(OstreeObjectType t, const std::string &csum, GVariant *v) {
    gboolean have = FALSE;
    GErr e;
    if (!ostree_repo_has_object(repo_, t, csum.c_str(), &have, c_, e.out())) Fail(e);
    guchar *out = nullptr;
    if (!ostree_repo_write_metadata(repo_, t, csum.c_str(), v, &out, c_, e.out())) Fail(e);
    g_free(out);
    if (have) {
      res_.objects_reused++;
    } else {
      res_.objects_written++;
      res_.bytes_written += g_variant_get_size(v);
    }
  }

  void Process() {
    const std::string path = rest_;
    if (rest_.compare(0, 8, "objects/") == 0) {
      WithContext("Importing object " + path, [&] { ProcessObject(); });
    } else if (rest_.compare(0, 7, "xattrs/") == 0) {
      WithContext("Importing object " + path, [&] { XattrsBlob0(rest_.substr(7)); });
    }
    // Anything else under the repo (state/, tmp/ …) carries nothing we import.
  }

  void ProcessObject() {
    // objects/XX/NAME: exactly three components.
    if (std::count(rest_.begin(), rest_.end(), '/') != 2) Fail("Invalid objpath " + rest_);
    ObjRef r = ParseObjectPath(rest_);
    bool objset = spec_.mode == ImportSpec::Mode::Objects;
    switch (r.kind) {
      case ObjKind::Commit: Fail("Found multiple commit objects");
      case ObjKind::CommitMeta:
        if (objset) Fail("Found metadata object " + r.checksum + ".CommitMeta in object set mode");
        Fail("Invalid metadata object type; CommitMeta");
      case ObjKind::DirTree:
      case ObjKind::DirMeta: {
        if (objset) Fail("Found metadata object " + r.checksum + "." + ObjKindName(r.kind) + " in object set mode");
        WithContext("Importing metadata object", [&] {
          if (e_.type != '0') Fail("Invalid non-regular metadata object " + r.checksum);
          bool tree = r.kind == ObjKind::DirTree;
          GVar v = VariantOf(ReadMetadata(), tree ? "(a(say)a(sayay))" : "(uuua(ayay))");
          WriteMetadataObject(tree ? OSTREE_OBJECT_TYPE_DIR_TREE : OSTREE_OBJECT_TYPE_DIR_META, r.checksum, v.get());
        });
        return;
      }
      case ObjKind::FileXattrs:
        WithContext("Processing file xattrs", [&] { XattrsBlob(r.checksum); });
        return;
      case ObjKind::FileXattrsLink:
        WithContext("Processing xattrs link", [&] { XattrsLink(r.checksum); });
        return;
      case ObjKind::Xattrs0:
        WithContext("Processing xattrs reference", [&] { XattrsRef0(r.checksum); });
        return;
      case ObjKind::File:
        WithContext("Processing content object " + r.checksum, [&] { ContentObject(r.checksum); });
        return;
    }
  }

  std::string ReadXattrs() {
    if (e_.size > kMaxXattrsSize) Fail("Invalid xattr size " + std::to_string(e_.size));
    return tar_.ReadAll(kMaxXattrsSize, "Invalid xattr size ");
  }

  void CacheXattrs(const std::string &sha, const std::string &data) {
    if (xattrs_.count(sha)) return;
    xattrs_bytes_ += data.size() + kXattrsEntryCost;
    if (xattrs_bytes_ > kMaxXattrsCache)
      Fail("Too many distinct xattrs: the xattrs cache of one import exceeds " + std::to_string(kMaxXattrsCache) +
           " bytes at offset " + std::to_string(e_.offset));
    xattrs_.emplace(sha, VariantOf(data, "a(ayay)"));
  }

  void XattrsBlob(const std::string &expected) {
    if (e_.type != '0') Fail(std::string("Invalid xattr entry of type ") + TarTypeName(e_.type));
    std::string data = ReadXattrs();
    std::string actual = Sha256::Of(data.data(), data.size());
    if (actual != expected) Fail("Checksum mismatch, expected '" + expected + "' but computed '" + actual + "'");
    CacheXattrs(actual, data);
  }

  // v0 `xattrs/<sha256>` blob.
  void XattrsBlob0(const std::string &name) {
    ValidateSha256(name);
    XattrsBlob(name);
  }

  void SetNext(const std::string &file, const std::string &sha) {
    if (next_) Fail("Found previous dangling xattrs for file object '" + next_->first + "'");
    next_ = std::make_pair(file, sha);
  }

  void XattrsLink(const std::string &file) {
    if (next_) Fail("Found previous dangling xattrs for file object '" + next_->first + "'");
    if (e_.type == '1') {
      if (e_.link.empty()) Fail("No xattrs link content for " + file);
      ObjRef target = ParseObjectPath(e_.link);
      if (target.kind != ObjKind::FileXattrs) Fail("Invalid xattrs link target " + e_.link);
      SetNext(file, target.checksum);
    } else if (e_.type == '0') {
      // A producer that hit a hardlink limit stores the blob itself.
      std::string data = ReadXattrs();
      std::string sha = Sha256::Of(data.data(), data.size());
      CacheXattrs(sha, data);
      SetNext(file, sha);
    } else {
      Fail(std::string("Unexpected xattrs type '") + TarTypeName(e_.type) + "' found for " + file);
    }
  }

  void XattrsRef0(const std::string &file) {
    if (e_.type != '1') Fail("Non-hardlink xattrs reference found for " + file);
    size_t slash = e_.link.rfind('/');
    std::string sha = slash == std::string::npos ? e_.link : e_.link.substr(slash + 1);
    ValidateSha256(sha);
    SetNext(file, sha);
  }

  void ContentObject(const std::string &csum) {
    if (!next_) Fail("Missing xattrs reference");
    auto [file, sha] = *next_;
    next_.reset();
    if (file != csum) Fail("Object mismatch, found xattrs for " + file);
    if (spec_.mode == ImportSpec::Mode::Objects) {
      if (!recorded_set_.insert(csum).second) Fail("Duplicate object: " + csum);
      recorded_.push_back(csum);
    }
    GErr e;
    gboolean have = FALSE;
    if (!ostree_repo_has_object(repo_, OSTREE_OBJECT_TYPE_FILE, csum.c_str(), &have, c_, e.out())) Fail(e);
    if (have) {
      res_.objects_reused++;
      return;
    }
    auto x = xattrs_.find(sha);
    if (x == xattrs_.end()) Fail("Failed to find xattrs content " + sha);
    GVariant *xattrs = x->second.get();
    if (e_.type == '0') {
      uint32_t mode = S_IFREG | e_.mode;
      if (e_.size <= kInlineRegfileMax) {
        // Written on the pool; its errors carry the context they would have had here.
        auto data = std::make_shared<std::string>(tar_.ReadAll(kInlineRegfileMax, ""));
        auto xv = std::shared_ptr<GVariant>(g_variant_ref(xattrs), g_variant_unref);
        std::string context = "Importing object " + rest_ + ": Processing content object " + csum + ": Importing regfile small";
        uint32_t uid = e_.uid, gid = e_.gid;
        writers_.Submit([this, data, xv, context, csum, uid, gid, mode] {
          WithContext(context, [&] {
            GErr err;
            char *out = ostree_repo_write_regfile_inline(repo_, csum.c_str(), uid, gid, mode, xv.get(),
                                                         reinterpret_cast<const guint8 *>(data->data()), data->size(),
                                                         c_, err.out());
            if (!out) Fail(err);
            g_free(out);
          });
          pool_written_++;
          pool_bytes_ += data->size();
        });
        return;
      } else {
        WithContext("Importing regfile", [&] {
          GObj<OstreeContentWriter> w(
              ostree_repo_write_regfile(repo_, csum.c_str(), e_.uid, e_.gid, mode, e_.size, xattrs, e.out()));
          if (!w) Fail(e);
          for (;;) {
            size_t n = tar_.Read(buf_.data(), buf_.size());
            if (n == 0) break;
            if (!g_output_stream_write_all(G_OUTPUT_STREAM(w.get()), buf_.data(), n, nullptr, c_, e.out())) Fail(e);
          }
          char *out = ostree_content_writer_finish(w.get(), c_, e.out());
          if (!out) Fail(e);
          g_free(out);
        });
      }
      res_.bytes_written += e_.size;
    } else if (e_.type == '2') {
      WithContext("Importing symlink", [&] {
        if (e_.link.empty()) Fail("Invalid symlink");
        if (!g_utf8_validate(e_.link.data(), static_cast<gssize>(e_.link.size()), nullptr)) Fail("Non-utf8 symlink");
        char *out = ostree_repo_write_symlink(repo_, csum.c_str(), e_.uid, e_.gid, xattrs, e_.link.c_str(), c_, e.out());
        if (!out) Fail(e);
        g_free(out);
      });
    } else {
      Fail(std::string("Invalid tar entry of type ") + TarTypeName(e_.type));
    }
    res_.objects_written++;
  }

  OstreeRepo *repo_;
  const ImportSpec &spec_;
  TarReader &tar_;
  GCancellable *c_;
  ImportResult &res_;
  std::vector<uint8_t> buf_;
  TarEntry e_;
  std::string rest_;
  std::unordered_map<std::string, GVar> xattrs_;
  uint64_t xattrs_bytes_ = 0;
  std::optional<std::pair<std::string, std::string>> next_;
  std::vector<std::string> recorded_;
  std::unordered_set<std::string> recorded_set_;
  std::string marked_partial_;
  bool was_partial_ = false;
  std::atomic<uint64_t> pool_written_{0}, pool_bytes_{0};
  TaskGroup writers_;  // last: stopped first
};

}  // namespace

ImportResult ImportLayer(OstreeRepo *repo, const ImportSpec &spec, GCancellable *cancellable) {
  InputFile input(spec.fd, spec.path);
  ImportResult res;
  LayerInput in(input.fd(), spec.compression, cancellable, spec.bytes_read);
  std::optional<OwnTransaction> txn;
  if (spec.own_transaction) txn.emplace(repo, cancellable);
  Importer imp(repo, spec, in.tar(), cancellable, res);
  try {
    imp.Run();
    in.tar().Drain();
    if (spec.mode == ImportSpec::Mode::Objects && spec.finish)
      res.commit = WithContext("Writing object-set commit", [&] { return imp.FinishObjectSet(); });
    static_cast<BlobDigests &>(res) = in.Digests();
    if (txn) txn->Commit(cancellable);
    // Complete only once its transaction is committed: in the caller's transaction other
    // layers may still be missing objects, so there the caller marks it when they are all in.
    if (spec.mode == ImportSpec::Mode::Commit && spec.own_transaction) {
      GErr e;
      if (!MarkCommitPartial(repo, res.commit.c_str(), FALSE, e.out())) Fail(e);
    }
    return res;
  } catch (...) {
    // No write may still be running when the transaction is aborted.
    imp.StopWriters();
    txn.reset();
    // Undo the partial marker unless the commit was already partial before we started.
    if (!imp.marked_partial().empty() && !imp.was_partial())
      ostree_repo_mark_commit_partial(repo, imp.marked_partial().c_str(), FALSE, nullptr);
    throw;
  }
}

}  // namespace oc
