// Repo binding, trees and commits: writeMtree's spec parsed, writeCommit, checkout, and the JS
// DevInoCache class. The core is repo/tree.h.
#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "repo/tree.h"
#include "repo/wrap_js.h"
#include "util/variant.h"

namespace oc {
namespace {

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
      MtreeDirectory dir;
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
      MtreeEntry entry;
      entry.display = StringArg(Opt(e, "path"), "writeMtree: entries[].path");
      entry.path = SplitPath(env, entry.display);
      std::string kind = StringArg(Opt(e, "kind"), "writeMtree: entries[].kind");
      if (kind == "file") {
        entry.kind = MtreeEntry::kFile;
        entry.checksum = ChecksumArg(Opt(e, "checksum"), "writeMtree: entries[].checksum");
      } else if (kind == "dir") {
        entry.kind = MtreeEntry::kDir;
        auto meta = OptChecksumArg(Opt(e, "metadata"), "writeMtree: entries[].metadata");
        if (meta) entry.checksum = *meta;
      } else if (kind == "remove") {
        entry.kind = MtreeEntry::kRemove;
      } else {
        throw Napi::TypeError::New(env, "writeMtree: entries[].kind must be 'file', 'dir' or 'remove'");
      }
      if (entry.path.empty() && entry.kind != MtreeEntry::kDir)
        throw Napi::TypeError::New(env, "writeMtree: entry path '" + entry.display + "' names the root");
      spec.entries.push_back(std::move(entry));
    }
  }
  spec.parent_dir_metadata = OptChecksumArg(Opt(s, "parentDirMetadata"), "writeMtree: parentDirMetadata");
  spec.root_metadata = OptChecksumArg(Opt(s, "rootMetadata"), "writeMtree: rootMetadata");
  spec.modifier = ParseModifier(Opt(s, "modifier"));
  return spec;
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
      [=] { *out = WriteMtreeSpec(repo.get(), *spec, cancellable.get()); },
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
  auto out = std::make_shared<std::string>();
  return RunRepoJob(
      env, "ostree-container:write-commit", RepoJob(env, repo.get(), "writeCommit", RepoUse::CallerTxn),
      [=] {
        GObj<OstreeMutableTree> mtree(ostree_mutable_tree_new_from_checksum(repo.get(), contents.c_str(),
                                                                            metadata.c_str()));
        *out = CommitTree(repo.get(), mtree.get(), CommitFields{parent, subject, body, meta.get(), timestamp},
                          cancellable.get());
      },
      [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *out); });
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
  return RunRepoJob(env, "ostree-container:checkout", RepoJob(env, repo.get(), "checkout"), [=] {
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
    CheckoutNew(repo.get(), co, dest, commit, cancellable.get());
  });
}

void InitDevInoCache(Napi::Env env, Napi::Object exports) { DevInoCache::Init(env, exports); }

}  // namespace oc
