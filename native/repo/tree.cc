// Trees and commits: building a mutable tree (from a base tree, host directories and single
// entries), writing commits, checking out, and the devino cache shared by checkout and commit
// (files checked out by hardlink are recognised again without re-hashing).
#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <vector>
#include <memory>
#include <mutex>
#include <optional>

#include "repo/repo.h"
#include "repo/wrap.h"
#include "repo/sepolicy.h"
#include "util/failure.h"
#include "util/args.h"
#include "util/async.h"
#include "util/classes.h"
#include "util/errors.h"
#include "util/tempdir.h"
#include "util/variant.h"

namespace oc {
namespace {

// An OstreeRepoDevInoCache is a plain GHashTable that checkout fills and commit reads: jobs
// sharing one take its mutex for their whole run (they never wait on each other otherwise).
struct SharedDevIno {
  DevInoCachePtr cache{ostree_repo_devino_cache_new()};
  std::mutex mu;
};
using DevInoRef = std::shared_ptr<SharedDevIno>;

// ---- DevInoCache: a JS handle on an OstreeRepoDevInoCache ----

class DevInoCache : public TaggedWrap<DevInoCache> {
 public:
  static constexpr const char *kClassName = "DevInoCache";
  static void Init(Napi::Env env, Napi::Object exports) {
    Export(env, exports);
  }
  explicit DevInoCache(const Napi::CallbackInfo &info)
      : TaggedWrap<DevInoCache>(info), cache_(std::make_shared<SharedDevIno>()) {}

  // The cache behind `v`, or null for undefined/null.
  static DevInoRef From(const Napi::Value &v, const char *what) {
    if (v.IsUndefined() || v.IsNull()) return nullptr;
    if (!IsInstance(v, "DevInoCache"))
      throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a DevInoCache");
    return Unwrap(v.As<Napi::Object>())->cache_;
  }

 private:
  DevInoRef cache_;
};

// Holds `devino`'s mutex (if any) while alive.
std::unique_lock<std::mutex> LockDevIno(const DevInoRef &devino) {
  return devino ? std::unique_lock<std::mutex>(devino->mu) : std::unique_lock<std::mutex>();
}

// ---- tree building ----

std::vector<std::string> SplitPath(const Napi::Env &env, const std::string &path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "..") throw Napi::TypeError::New(env, "path '" + path + "' contains '..'");
    if (!part.empty() && part != ".") parts.push_back(part);
    start = end + 1;
  }
  return parts;
}

struct Entry {
  enum Kind { kFile, kDir, kRemove } kind;
  std::vector<std::string> path;
  std::string checksum;  // file object (kFile) or dirmeta (kDir, may be empty)
  std::string display;
};

struct Directory {
  std::string source;                // host path
  std::vector<std::string> dest;     // inside the tree; empty = root
};

struct ModifierSpec {
  bool present = false;
  int flags = OSTREE_REPO_COMMIT_MODIFIER_FLAGS_NONE;
  std::optional<uint32_t> uid, gid;
  std::optional<std::string> sepolicy_from_commit;
  DevInoRef devino;
};

struct MtreeSpec {
  std::optional<std::string> base_contents, base_metadata, base_commit;
  std::vector<Directory> directories;
  std::vector<Entry> entries;
  std::optional<std::string> parent_dir_metadata, root_metadata;
  ModifierSpec modifier;
};

struct Ownership {
  std::optional<uint32_t> uid, gid;
};

OstreeRepoCommitFilterResult OwnershipFilter(OstreeRepo *, const char *, GFileInfo *fi, gpointer data) {
  auto *o = static_cast<Ownership *>(data);
  if (o->uid) g_file_info_set_attribute_uint32(fi, "unix::uid", *o->uid);
  if (o->gid) g_file_info_set_attribute_uint32(fi, "unix::gid", *o->gid);
  return OSTREE_REPO_COMMIT_FILTER_ALLOW;
}

// `policy_dir` receives the checkout of the policy (it must outlive the modifier).
bool MakeModifier(OstreeRepo *repo, const ModifierSpec &spec, CommitModifier &out,
                  std::unique_ptr<RepoTempDir> &policy_dir, GCancellable *c, GError **error) {
  if (!spec.present) return true;
  OstreeRepoCommitFilter filter = nullptr;
  Ownership *own = nullptr;
  if (spec.uid || spec.gid) {
    own = new Ownership{spec.uid, spec.gid};
    filter = OwnershipFilter;
  }
  out.reset(ostree_repo_commit_modifier_new(static_cast<OstreeRepoCommitModifierFlags>(spec.flags), filter, own,
                                            [](gpointer p) { delete static_cast<Ownership *>(p); }));
  if (spec.devino) ostree_repo_commit_modifier_set_devino_cache(out.get(), spec.devino->cache.get());
  if (spec.sepolicy_from_commit) {
    // Through the checked loader (repo/sepolicy.h): libostree's own aborts on some policy trees.
    try {
      policy_dir = std::make_unique<RepoTempDir>(ostree_repo_get_dfd(repo), "sepolicy-");
      GObj<OstreeSePolicy> policy = SePolicyFromCommit(repo, *spec.sepolicy_from_commit, policy_dir->fd(), c);
      ostree_repo_commit_modifier_set_sepolicy(out.get(), policy.get());
    } catch (const Failure &f) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "setting sepolicy from commit: %s", f.info.message.c_str());
      return false;
    }
  }
  return true;
}

ModifierSpec ParseModifier(const Napi::Value &m) {
  ModifierSpec spec;
  if (m.IsUndefined() || m.IsNull()) return spec;
  if (!m.IsObject()) throw Napi::TypeError::New(m.Env(), "writeMtree: modifier must be an object");
  spec.present = true;
  static const std::pair<const char *, int> kFlags[] = {
      {"skipXattrs", OSTREE_REPO_COMMIT_MODIFIER_FLAGS_SKIP_XATTRS},
      {"generateSizes", OSTREE_REPO_COMMIT_MODIFIER_FLAGS_GENERATE_SIZES},
      {"canonicalPermissions", OSTREE_REPO_COMMIT_MODIFIER_FLAGS_CANONICAL_PERMISSIONS},
      {"errorOnUnlabeled", OSTREE_REPO_COMMIT_MODIFIER_FLAGS_ERROR_ON_UNLABELED},
      {"consume", OSTREE_REPO_COMMIT_MODIFIER_FLAGS_CONSUME},
      {"devinoCanonical", OSTREE_REPO_COMMIT_MODIFIER_FLAGS_DEVINO_CANONICAL},
  };
  for (const auto &f : kFlags)
    if (Opt(m, f.first).ToBoolean()) spec.flags |= f.second;
  Napi::Value uid = Opt(m, "uid"), gid = Opt(m, "gid");
  if (!uid.IsUndefined() && !uid.IsNull()) spec.uid = Uint32Arg(uid, "writeMtree: modifier.uid");
  if (!gid.IsUndefined() && !gid.IsNull()) spec.gid = Uint32Arg(gid, "writeMtree: modifier.gid");
  spec.sepolicy_from_commit = OptStringArg(Opt(m, "sepolicyFromCommit"), "writeMtree: modifier.sepolicyFromCommit");
  spec.devino = DevInoCache::From(Opt(m, "devinoCache"), "writeMtree: modifier.devinoCache");
  return spec;
}

MtreeSpec ParseMtreeSpec(const Napi::Value &s) {
  Napi::Env env = s.Env();
  if (!s.IsObject()) throw Napi::TypeError::New(env, "writeMtree: spec must be an object");
  MtreeSpec spec;
  Napi::Value base = Opt(s, "base");
  if (base.IsObject()) {
    spec.base_contents = ChecksumArg(Opt(base, "contents"), "writeMtree: base.contents");
    spec.base_metadata = ChecksumArg(Opt(base, "metadata"), "writeMtree: base.metadata");
  }
  spec.base_commit = OptStringArg(Opt(s, "baseCommit"), "writeMtree: baseCommit");
  Napi::Value dirs = Opt(s, "directories");
  if (dirs.IsArray()) {
    Napi::Array a = dirs.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value d = a.Get(i);
      Directory dir;
      dir.source = StringArg(Opt(d, "source"), "writeMtree: directories[].source");
      auto dest = OptStringArg(Opt(d, "destination"), "writeMtree: directories[].destination");
      if (dest) dir.dest = SplitPath(env, *dest);
      spec.directories.push_back(std::move(dir));
    }
  }
  Napi::Value entries = Opt(s, "entries");
  if (entries.IsArray()) {
    Napi::Array a = entries.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value e = a.Get(i);
      Entry entry;
      entry.display = StringArg(Opt(e, "path"), "writeMtree: entries[].path");
      entry.path = SplitPath(env, entry.display);
      std::string kind = StringArg(Opt(e, "kind"), "writeMtree: entries[].kind");
      if (kind == "file") {
        entry.kind = Entry::kFile;
        entry.checksum = ChecksumArg(Opt(e, "checksum"), "writeMtree: entries[].checksum");
      } else if (kind == "dir") {
        entry.kind = Entry::kDir;
        auto meta = OptChecksumArg(Opt(e, "metadata"), "writeMtree: entries[].metadata");
        if (meta) entry.checksum = *meta;
      } else if (kind == "remove") {
        entry.kind = Entry::kRemove;
      } else {
        throw Napi::TypeError::New(env, "writeMtree: entries[].kind must be 'file', 'dir' or 'remove'");
      }
      if (entry.path.empty() && entry.kind != Entry::kDir)
        throw Napi::TypeError::New(env, "writeMtree: entry path '" + entry.display + "' names the root");
      spec.entries.push_back(std::move(entry));
    }
  }
  spec.parent_dir_metadata = OptChecksumArg(Opt(s, "parentDirMetadata"), "writeMtree: parentDirMetadata");
  spec.root_metadata = OptChecksumArg(Opt(s, "rootMetadata"), "writeMtree: rootMetadata");
  spec.modifier = ParseModifier(Opt(s, "modifier"));
  return spec;
}

// Walks (creating as needed) `parts[0..n)` below `root`; new directories get `meta`.
// Returns a new ref to the last directory.
bool EnsureDirs(OstreeMutableTree *root, const std::vector<std::string> &parts, size_t n,
                const std::optional<std::string> &meta, const std::string &display, GObj<OstreeMutableTree> &out,
                GError **error) {
  GObj<OstreeMutableTree> cur(OSTREE_MUTABLE_TREE(g_object_ref(root)));
  for (size_t i = 0; i < n; i++) {
    OstreeMutableTree *sub = nullptr;
    if (!ostree_mutable_tree_ensure_dir(cur.get(), parts[i].c_str(), &sub, error)) {
      g_prefix_error(error, "Adding '%s': ", display.c_str());
      return false;
    }
    cur.reset(sub);
    if (!ostree_mutable_tree_get_metadata_checksum(cur.get())) {
      if (!meta) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "Adding '%s': directory '%s' has no metadata; pass parentDirMetadata", display.c_str(),
                    parts[i].c_str());
        return false;
      }
      ostree_mutable_tree_set_metadata_checksum(cur.get(), meta->c_str());
    }
  }
  out = std::move(cur);
  return true;
}

bool BuildMtree(OstreeRepo *repo, const MtreeSpec &spec, GObj<OstreeMutableTree> &root, GCancellable *c,
                GError **error) {
  if (spec.base_commit) {
    root.reset(ostree_mutable_tree_new_from_commit(repo, spec.base_commit->c_str(), error));
    if (!root) return false;
  } else if (spec.base_contents) {
    root.reset(ostree_mutable_tree_new_from_checksum(repo, spec.base_contents->c_str(), spec.base_metadata->c_str()));
  } else {
    root.reset(ostree_mutable_tree_new());
  }
  std::unique_ptr<RepoTempDir> policy_dir;
  CommitModifier modifier;
  if (!MakeModifier(repo, spec.modifier, modifier, policy_dir, c, error)) return false;
  for (const auto &d : spec.directories) {
    GObj<OstreeMutableTree> dest;
    if (!EnsureDirs(root.get(), d.dest, d.dest.size(), spec.parent_dir_metadata, d.source, dest, error)) return false;
    if (!ostree_repo_write_dfd_to_mtree(repo, AT_FDCWD, d.source.c_str(), dest.get(), modifier.get(), c, error)) {
      g_prefix_error(error, "Writing directory '%s': ", d.source.c_str());
      return false;
    }
  }
  for (const auto &e : spec.entries) {
    size_t n = e.path.size();
    GObj<OstreeMutableTree> parent;
    if (e.kind == Entry::kDir) {
      if (!EnsureDirs(root.get(), e.path, n, e.checksum.empty() ? spec.parent_dir_metadata : e.checksum, e.display,
                      parent, error))
        return false;
      if (!e.checksum.empty()) ostree_mutable_tree_set_metadata_checksum(parent.get(), e.checksum.c_str());
      continue;
    }
    if (!EnsureDirs(root.get(), e.path, n - 1, spec.parent_dir_metadata, e.display, parent, error)) return false;
    const char *name = e.path.back().c_str();
    bool ok = e.kind == Entry::kFile
                  ? ostree_mutable_tree_replace_file(parent.get(), name, e.checksum.c_str(), error)
                  : ostree_mutable_tree_remove(parent.get(), name, FALSE, error);
    if (!ok) {
      g_prefix_error(error, "Adding '%s': ", e.display.c_str());
      return false;
    }
  }
  if (spec.root_metadata) ostree_mutable_tree_set_metadata_checksum(root.get(), spec.root_metadata->c_str());
  if (!ostree_mutable_tree_get_metadata_checksum(root.get())) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "The root directory has no metadata; pass rootMetadata");
    return false;
  }
  return true;
}

}  // namespace

// writeMtree(spec, cancellable?) → Promise<{ contents, metadata }>: builds a tree and writes it.
//   spec = { base?: { contents, metadata }, baseCommit?: rev,
//            directories?: { source, destination? }[],
//            entries?: ({ path, kind: 'file', checksum } | { path, kind: 'dir', metadata? }
//                       | { path, kind: 'remove' })[],
//            parentDirMetadata?, rootMetadata?,
//            modifier?: { skipXattrs, canonicalPermissions, consume, generateSizes, errorOnUnlabeled,
//                         devinoCanonical, uid?, gid?, sepolicyFromCommit?, devinoCache? } }
// Order: base, then directories, then entries, then rootMetadata.
Napi::Value RepoWrap::WriteMtree(const Napi::CallbackInfo &info) {
  auto spec = std::make_shared<MtreeSpec>(ParseMtreeSpec(info[0]));
  CancelRef cancellable = CancelArg(info[1]);
  auto repo = Ref();
  auto out = std::make_shared<std::pair<std::string, std::string>>();
  return RunRepoJob(
      info.Env(), "ostree-container:write-mtree", RepoJob(info.Env(), repo.get(), "writeMtree", RepoUse::CallerTxn),
      [=](ErrorInfo &err) {
        auto devino_lock = LockDevIno(spec->modifier.devino);
        GErr e;
        GObj<OstreeMutableTree> mtree;
        GFile *root = nullptr;
        if (!BuildMtree(repo.get(), *spec, mtree, cancellable.get(), e.out()) ||
            !ostree_repo_write_mtree(repo.get(), mtree.get(), &root, cancellable.get(), e.out())) {
          err = e.Take();
          return;
        }
        GObj<GFile> owned(root);
        out->first = ostree_repo_file_tree_get_contents_checksum(OSTREE_REPO_FILE(root));
        out->second = ostree_repo_file_tree_get_metadata_checksum(OSTREE_REPO_FILE(root));
      },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("contents", out->first);
        o.Set("metadata", out->second);
        return o;
      });
}

// writeCommit({ rootContents, rootMetadata, parent?, subject?, body?, metadata?: a{sv},
//               timestamp?: seconds }, cancellable?) → Promise<string>
// Without a timestamp libostree uses the current time (or SOURCE_DATE_EPOCH).
Napi::Value RepoWrap::WriteCommit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Value o = info[0];
  if (!o.IsObject()) throw Napi::TypeError::New(env, "writeCommit: options must be an object");
  std::string contents = ChecksumArg(Opt(o, "rootContents"), "writeCommit: rootContents");
  std::string metadata = ChecksumArg(Opt(o, "rootMetadata"), "writeCommit: rootMetadata");
  auto parent = OptChecksumArg(Opt(o, "parent"), "writeCommit: parent");
  auto subject = OptStringArg(Opt(o, "subject"), "writeCommit: subject");
  auto body = OptStringArg(Opt(o, "body"), "writeCommit: body");
  VarRef meta = OptVariantArg(Opt(o, "metadata"), G_VARIANT_TYPE_VARDICT, "metadata");
  Napi::Value ts = Opt(o, "timestamp");
  std::optional<guint64> timestamp;
  if (ts.IsBigInt()) {
    bool lossless = false;
    timestamp = ts.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, "writeCommit: timestamp out of range");
  } else if (ts.IsNumber()) {
    timestamp = SizeArg(ts, "writeCommit: timestamp");
  } else if (!ts.IsUndefined() && !ts.IsNull()) {
    throw Napi::TypeError::New(env, "writeCommit: timestamp must be a number or bigint (seconds)");
  }
  CancelRef cancellable = CancelArg(info[1]);
  auto repo = Ref();
  auto out = std::make_shared<GStr>();
  return RunRepoJob(
      env, "ostree-container:write-commit", RepoJob(env, repo.get(), "writeCommit", RepoUse::CallerTxn),
      [=](ErrorInfo &err) {
        GErr e;
        GObj<OstreeMutableTree> mtree(ostree_mutable_tree_new_from_checksum(repo.get(), contents.c_str(),
                                                                            metadata.c_str()));
        GFile *root = nullptr;
        if (!ostree_repo_write_mtree(repo.get(), mtree.get(), &root, cancellable.get(), e.out())) {
          err = e.Take();
          return;
        }
        GObj<GFile> owned(root);
        const char *p = OptCStr(parent), *s = OptCStr(subject), *b = OptCStr(body);
        char *csum = nullptr;
        bool ok = timestamp ? ostree_repo_write_commit_with_time(repo.get(), p, s, b, meta.get(), OSTREE_REPO_FILE(root),
                                                                 *timestamp, &csum, cancellable.get(), e.out())
                            : ostree_repo_write_commit(repo.get(), p, s, b, meta.get(), OSTREE_REPO_FILE(root), &csum,
                                                       cancellable.get(), e.out());
        if (!ok) err = e.Take();
        out->reset(csum);
      },
      [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, out->get()); });
}

// checkout(commit, destination, { mode: 'user' | 'none', overwrite: 'none' | 'union-files' |
//   'add-files' | 'union-identical', processWhiteouts, processPassthroughWhiteouts, subpath,
//   devinoCache, noCopyFallback, forceCopy, forceCopyZerosized, bareuseronlyDirs }, cancellable?)
//   → Promise<void>
Napi::Value RepoWrap::Checkout(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string commit = ChecksumArg(info[0], "checkout: commit");
  std::string dest = StringArg(info[1], "checkout: destination");
  Napi::Value o = info[2];
  struct Opts {
    OstreeRepoCheckoutMode mode = OSTREE_REPO_CHECKOUT_MODE_NONE;
    OstreeRepoCheckoutOverwriteMode overwrite = OSTREE_REPO_CHECKOUT_OVERWRITE_NONE;
    bool whiteouts = false, passthrough = false, no_copy_fallback = false, force_copy = false,
         force_copy_zerosized = false, bareuseronly_dirs = false;
    std::optional<std::string> subpath;
    DevInoRef devino;
  };
  auto opts = std::make_shared<Opts>();
  auto mode = OptStringArg(Opt(o, "mode"), "checkout: mode");
  if (mode && *mode == "user") opts->mode = OSTREE_REPO_CHECKOUT_MODE_USER;
  else if (mode && *mode != "none") throw Napi::TypeError::New(env, "checkout: mode must be 'user' or 'none'");
  auto overwrite = OptStringArg(Opt(o, "overwrite"), "checkout: overwrite");
  if (overwrite) {
    if (*overwrite == "union-files") opts->overwrite = OSTREE_REPO_CHECKOUT_OVERWRITE_UNION_FILES;
    else if (*overwrite == "add-files") opts->overwrite = OSTREE_REPO_CHECKOUT_OVERWRITE_ADD_FILES;
    else if (*overwrite == "union-identical") opts->overwrite = OSTREE_REPO_CHECKOUT_OVERWRITE_UNION_IDENTICAL;
    else if (*overwrite != "none")
      throw Napi::TypeError::New(env, "checkout: overwrite must be 'none', 'union-files', 'add-files' or 'union-identical'");
  }
  opts->whiteouts = Opt(o, "processWhiteouts").ToBoolean();
  opts->passthrough = Opt(o, "processPassthroughWhiteouts").ToBoolean();
  opts->no_copy_fallback = Opt(o, "noCopyFallback").ToBoolean();
  opts->force_copy = Opt(o, "forceCopy").ToBoolean();
  opts->force_copy_zerosized = Opt(o, "forceCopyZerosized").ToBoolean();
  opts->bareuseronly_dirs = Opt(o, "bareuseronlyDirs").ToBoolean();
  opts->subpath = OptStringArg(Opt(o, "subpath"), "checkout: subpath");
  opts->devino = DevInoCache::From(Opt(o, "devinoCache"), "checkout: devinoCache");
  // libostree 2022.7 ostree_repo_checkout_at's g_return_val_if_fail preconditions, as errors.
  if (opts->force_copy && opts->no_copy_fallback)
    throw Napi::TypeError::New(env, "checkout: forceCopy and noCopyFallback exclude each other");
  if (opts->overwrite == OSTREE_REPO_CHECKOUT_OVERWRITE_UNION_IDENTICAL && !opts->no_copy_fallback)
    throw Napi::TypeError::New(env, "checkout: overwrite 'union-identical' needs noCopyFallback (it compares files by hardlinking them)");
  CancelRef cancellable = CancelArg(info[3]);
  auto repo = Ref();
  return RunOstreeCall(
      env, "ostree-container:checkout", RepoJob(env, repo.get(), "checkout"),
      [=](GError **error) {
        auto devino_lock = LockDevIno(opts->devino);
        OstreeRepoCheckoutAtOptions co = {};
        co.mode = opts->mode;
        co.overwrite_mode = opts->overwrite;
        co.process_whiteouts = opts->whiteouts;
        co.process_passthrough_whiteouts = opts->passthrough;
        co.no_copy_fallback = opts->no_copy_fallback;
        co.force_copy = opts->force_copy;
        co.force_copy_zerosized = opts->force_copy_zerosized;
        co.bareuseronly_dirs = opts->bareuseronly_dirs;
        co.subpath = OptCStr(opts->subpath);
        co.devino_to_csum_cache = opts->devino ? opts->devino->cache.get() : nullptr;
        // A failed or cancelled checkout removes the destination it created (not one that was there).
        struct stat st;
        bool existed = fstatat(AT_FDCWD, dest.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
        bool ok = ostree_repo_checkout_at(repo.get(), &co, AT_FDCWD, dest.c_str(), commit.c_str(), cancellable.get(),
                                          error);
        if (!ok && !existed) RemoveAt(AT_FDCWD, dest.c_str());
        return ok;
      });
}

void InitDevInoCache(Napi::Env env, Napi::Object exports) { DevInoCache::Init(env, exports); }

}  // namespace oc
