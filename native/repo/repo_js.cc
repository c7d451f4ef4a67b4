// Repo binding: open/create, refs, transactions, config, remotes, pull, signatures, prune. Every
// blocking call runs on a scheduler thread through PromiseWorker; the JS object only holds a
// GObject ref. Object reads/writes are in objects_js.cc, trees/commits/checkout in tree_js.cc;
// the transaction state machine they check is repo/transaction.h.
#include <algorithm>
#include <climits>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "modules.h"
#include "repo/transaction.h"
#include "repo/wrap_js.h"

#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/classes.h"
#include "util/errors.h"
#include "util/variant.h"

namespace oc {

// ---- argument helpers (declared in repo/wrap.h) ----

std::optional<std::string> OptChecksumArg(const Napi::Value &v, const char *what) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return ChecksumArg(v, what);
}

std::string ChecksumArg(const Napi::Value &v, const char *what) {
  std::string s = StringArg(v, what);
  GErr e;
  if (!ostree_validate_checksum_string(s.c_str(), e.out()))
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": " + e.get()->message);
  return s;
}

uint32_t Uint32Arg(const Napi::Value &v, const char *what) {
  return static_cast<uint32_t>(IntegerArg(v, what, 0, 4294967295.0));
}

int DepthArg(const Napi::Value &v, const char *what, int dflt) {
  if (v.IsUndefined() || v.IsNull()) return dflt;
  return static_cast<int>(IntegerArg(v, what, -1, INT_MAX));
}

CancelRef CancelArg(const Napi::Value &v) { return Share(Cancellable::From(v)); }

OstreeObjectType ObjectTypeArg(const Napi::Value &v, const char *what) {
  static const std::pair<const char *, OstreeObjectType> kTypes[] = {
      {"file", OSTREE_OBJECT_TYPE_FILE},          {"dirtree", OSTREE_OBJECT_TYPE_DIR_TREE},
      {"dirmeta", OSTREE_OBJECT_TYPE_DIR_META},   {"commit", OSTREE_OBJECT_TYPE_COMMIT},
      {"commitmeta", OSTREE_OBJECT_TYPE_COMMIT_META},
      {"tombstone-commit", OSTREE_OBJECT_TYPE_TOMBSTONE_COMMIT},
      {"payload-link", OSTREE_OBJECT_TYPE_PAYLOAD_LINK}, {"file-xattrs", OSTREE_OBJECT_TYPE_FILE_XATTRS},
      {"file-xattrs-link", OSTREE_OBJECT_TYPE_FILE_XATTRS_LINK},
  };
  std::string s = StringArg(v, what);
  for (const auto &t : kTypes)
    if (s == t.first) return t.second;
  throw Napi::TypeError::New(v.Env(), std::string(what) + ": unknown object type '" + s + "'");
}

Napi::Value Opt(const Napi::Value &opts, const char *name) {
  if (!opts.IsObject()) return opts.Env().Undefined();
  return opts.As<Napi::Object>().Get(name);
}

GBytesPtr BytesArg(const Napi::Value &v, const char *what) {
  if (!IsUint8Array(v)) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Uint8Array");
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  return GBytesPtr(g_bytes_new(a.Data(), a.ByteLength()));
}

VarRef OptVariantArg(const Napi::Value &v, const GVariantType *type, const char *what) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return ShareVariant(PlainToVariant(v, type, what));
}

Napi::Value StringPairsToJs(Napi::Env env, const std::vector<std::pair<std::string, std::string>> &pairs) {
  Napi::Array a = Napi::Array::New(env, pairs.size());
  for (size_t i = 0; i < pairs.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, pairs[i].first);
    pair.Set(1u, pairs[i].second);
    a.Set(static_cast<uint32_t>(i), pair);
  }
  return a;
}

Napi::Value StringOrNull(Napi::Env env, const GStr &s) {
  return s ? Napi::Value(Napi::String::New(env, s.get())) : env.Null();
}

namespace {

const char *ModeName(OstreeRepoMode mode) {
  switch (mode) {
    case OSTREE_REPO_MODE_BARE: return "bare";
    case OSTREE_REPO_MODE_ARCHIVE: return "archive";
    case OSTREE_REPO_MODE_BARE_USER: return "bare-user";
    case OSTREE_REPO_MODE_BARE_USER_ONLY: return "bare-user-only";
    case OSTREE_REPO_MODE_BARE_SPLIT_XATTRS: return "bare-split-xattrs";
  }
  return "unknown";
}

// a{sv} of remote options: string → s, boolean → b, string[] → as (what libostree's
// remote_add understands).
GVariant *RemoteOptions(const Napi::Value &v) {
  GVariantBuilder b;
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value val = o.Get(k);
      const GVariantType *t = val.IsBoolean() ? G_VARIANT_TYPE_BOOLEAN
                              : val.IsArray() ? G_VARIANT_TYPE_STRING_ARRAY
                                              : G_VARIANT_TYPE_STRING;
      GVariant *child;
      try {
        child = PlainToVariant(val, t, "remote option " + k);
      } catch (...) {
        g_variant_builder_clear(&b);
        throw;
      }
      g_variant_builder_add(&b, "{sv}", k.c_str(), child);
    }
  }
  return g_variant_builder_end(&b);
}

}  // namespace

// ---- the class ----

void RepoWrap::Init(Napi::Env env, Napi::Object exports) {
  Export(
      env, exports,
      {
          StaticMethod("open", &RepoWrap::Open),
          StaticMethod("create", &RepoWrap::Create),
          InstanceAccessor("path", &RepoWrap::Path, nullptr),
          InstanceAccessor("mode", &RepoWrap::Mode, nullptr),
          InstanceAccessor("dfd", &RepoWrap::Dfd, nullptr),
          InstanceAccessor("isSystem", &RepoWrap::IsSystem, nullptr),
          InstanceMethod("resolveRev", &RepoWrap::ResolveRev),
          InstanceMethod("listRefs", &RepoWrap::ListRefs),
          InstanceMethod("setRefImmediate", &RepoWrap::SetRefImmediate),
          InstanceMethod("prepareTransaction", &RepoWrap::PrepareTransaction),
          InstanceMethod("commitTransaction", &RepoWrap::CommitTransaction),
          InstanceMethod("abortTransaction", &RepoWrap::AbortTransaction),
          InstanceMethod("transactionSetRef", &RepoWrap::TransactionSetRef),
          InstanceMethod("getConfig", &RepoWrap::GetConfig),
          InstanceMethod("setConfig", &RepoWrap::SetConfig),
          InstanceMethod("remoteAdd", &RepoWrap::RemoteAdd),
          InstanceMethod("remoteDelete", &RepoWrap::RemoteDelete),
          InstanceMethod("remoteList", &RepoWrap::RemoteList),
          InstanceMethod("remoteGpgImport", &RepoWrap::RemoteGpgImport),
          InstanceMethod("signatureVerifyCommitData", &RepoWrap::SignatureVerifyCommitData),
          InstanceMethod("signCommit", &RepoWrap::SignCommit),
          InstanceMethod("prune", &RepoWrap::Prune),
          InstanceMethod("markCommitPartial", &RepoWrap::MarkCommitPartial),
          InstanceMethod("pull", &RepoWrap::Pull),
          InstanceMethod("hasObject", &RepoWrap::HasObject),
          InstanceMethod("traverseCommit", &RepoWrap::TraverseCommit),
          InstanceMethod("loadCommit", &RepoWrap::LoadCommit),
          InstanceMethod("readCommitDetachedMetadata", &RepoWrap::ReadDetachedMetadata),
          InstanceMethod("writeCommitDetachedMetadata", &RepoWrap::WriteDetachedMetadata),
          InstanceMethod("loadVariant", &RepoWrap::LoadVariant),
          InstanceMethod("loadMetadataBytes", &RepoWrap::LoadMetadataBytes),
          InstanceMethod("writeMetadata", &RepoWrap::WriteMetadata),
          InstanceMethod("queryContent", &RepoWrap::QueryContent),
          InstanceMethod("readContent", &RepoWrap::ReadContent),
          InstanceMethod("writeRegfileInline", &RepoWrap::WriteRegfileInline),
          InstanceMethod("writeRegfileFromFd", &RepoWrap::WriteRegfileFromFd),
          InstanceMethod("writeSymlink", &RepoWrap::WriteSymlink),
          InstanceMethod("scanTree", &RepoWrap::ScanTree),
          InstanceMethod("writeMtree", &RepoWrap::WriteMtree),
          InstanceMethod("writeCommit", &RepoWrap::WriteCommit),
          InstanceMethod("checkout", &RepoWrap::Checkout),
      });
}

// Only called from Wrap(): JS cannot construct a Repo without open/create.
RepoWrap::RepoWrap(const Napi::CallbackInfo &info) : TaggedWrap<RepoWrap>(info) {
  if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "use Repo.open() or Repo.create()");
  repo_.reset(OSTREE_REPO(g_object_ref(info[0].As<Napi::External<OstreeRepo>>().Data())));
}

Napi::Object RepoWrap::Wrap(Napi::Env env, OstreeRepo *repo) {
  auto &ctor = GetAddonData(env).classes.at("Repo");
  return ctor.New({Napi::External<OstreeRepo>::New(env, repo)});
}

// Shared by open and create: on the pool, runs `init` (ostree_repo_open or _create) on a new
// OstreeRepo for `path`, whose real path it keeps; failure gets "<verb> ostree repository at
// '<path>'" as context. Resolves to the wrapped Repo.
Napi::Value RepoWrap::InitAt(Napi::Env env, const char *name, const std::string &path, const char *verb,
                             std::function<gboolean(OstreeRepo *, GError **)> init) {
  auto result = std::make_shared<GObj<OstreeRepo>>();
  return PromiseWorker::Run(
      env, name,
      [path, verb, init, result] {
        GObj<GFile> file(g_file_new_for_path(path.c_str()));
        GObj<OstreeRepo> repo(ostree_repo_new(file.get()));
        WithContext(std::string(verb) + " ostree repository at '" + path + "'", [&] {
          GErr e;
          if (!init(repo.get(), e.out())) Fail(e);
        });
        *result = std::move(repo);
      },
      [result](Napi::Env env) -> Napi::Value { return Wrap(env, result->get()); });
}

// Repo.open(path, cancellable?) → Promise<Repo>
Napi::Value RepoWrap::Open(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info[0], "Repo.open: path");
  CancelRef cancellable = CancelArg(info[1]);
  return InitAt(info.Env(), "ostree-container:repo-open", path, "Opening",
                [cancellable](OstreeRepo *repo, GError **error) {
                  return ostree_repo_open(repo, cancellable.get(), error);
                });
}

// Repo.create(path, mode, cancellable?) → Promise<Repo>; mode is an ostree mode name.
Napi::Value RepoWrap::Create(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info[0], "Repo.create: path");
  std::string mode_name = StringArg(info[1], "Repo.create: mode");
  OstreeRepoMode mode;
  {
    GErr e;
    if (!ostree_repo_mode_from_string(mode_name.c_str(), &mode, e.out())) throw ToJsError(env, e.Take());
  }
  CancelRef cancellable = CancelArg(info[2]);
  // ostree_repo_create() (not _create_at) so the repo keeps its real path.
  return InitAt(env, "ostree-container:repo-create", path, "Creating",
                [mode, cancellable](OstreeRepo *repo, GError **error) {
                  return ostree_repo_create(repo, mode, cancellable.get(), error);
                });
}

Napi::Value RepoWrap::Path(const Napi::CallbackInfo &info) {
  GFile *f = ostree_repo_get_path(repo_.get());
  GStr p(g_file_get_path(f));
  return Napi::String::New(info.Env(), p.get());
}

Napi::Value RepoWrap::Mode(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), ModeName(ostree_repo_get_mode(repo_.get())));
}

Napi::Value RepoWrap::Dfd(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), ostree_repo_get_dfd(repo_.get()));
}

Napi::Value RepoWrap::IsSystem(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), ostree_repo_is_system(repo_.get()));
}

// resolveRev(refspec, allowNoent) → Promise<string | null>
Napi::Value RepoWrap::ResolveRev(const Napi::CallbackInfo &info) {
  std::string rev = StringArg(info[0], "resolveRev: rev");
  bool allow_noent = info[1].ToBoolean();
  auto repo = Ref();
  auto out = std::make_shared<GStr>();
  return RunOstreeCall(
      info.Env(), "ostree-container:resolve-rev", RepoJob(info.Env(), repo.get(), "resolveRev"),
      [=](GError **error) {
        char *csum = nullptr;
        bool ok = ostree_repo_resolve_rev(repo.get(), rev.c_str(), allow_noent, &csum, error);
        out->reset(csum);
        return ok;
      },
      [out](Napi::Env env) { return StringOrNull(env, *out); });
}

// listRefs(prefix?, cancellable?) → Promise<[ref, checksum][]> sorted by ref; remote refs are
// "remote:ref".
Napi::Value RepoWrap::ListRefs(const Napi::CallbackInfo &info) {
  auto prefix = OptStringArg(info[0], "listRefs: prefix");
  CancelRef cancellable = CancelArg(info[1]);
  auto repo = Ref();
  auto out = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  return RunRepoJob(
      info.Env(), "ostree-container:list-refs", RepoJob(info.Env(), repo.get(), "listRefs"),
      [=] {
        GErr e;
        GHashTable *refs = nullptr;
        if (!ostree_repo_list_refs_ext(repo.get(), OptCStr(prefix), &refs,
                                       OSTREE_REPO_LIST_REFS_EXT_NONE, cancellable.get(), e.out()))
          Fail(e);
        GHash owned(refs);
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, refs);
        while (g_hash_table_iter_next(&it, &k, &v))
          out->emplace_back(static_cast<const char *>(k), static_cast<const char *>(v));
        std::sort(out->begin(), out->end());
      },
      [out](Napi::Env env) { return StringPairsToJs(env, *out); });
}

// setRefImmediate(remote | null, ref, checksum | null, cancellable?) → Promise<void>; a null
// checksum deletes the ref.
Napi::Value RepoWrap::SetRefImmediate(const Napi::CallbackInfo &info) {
  auto remote = OptStringArg(info[0], "setRefImmediate: remote");
  std::string ref = StringArg(info[1], "setRefImmediate: ref");
  auto csum = OptChecksumArg(info[2], "setRefImmediate: checksum");
  CancelRef cancellable = CancelArg(info[3]);
  auto repo = Ref();
  RepoJob job(info.Env(), repo.get(), "setRefImmediate");
  return RunOstreeCall(info.Env(), "ostree-container:set-ref", std::move(job), [=](GError **error) {
    return ostree_repo_set_ref_immediate(repo.get(), OptCStr(remote), ref.c_str(), OptCStr(csum), cancellable.get(),
                                         error);
  });
}

RepoJob::RepoJob(Napi::Env env, OstreeRepo *repo, const char *call, RepoUse use)
    : count_(RethrowAsJs(env, [&] { return std::make_shared<RepoJobCount>(repo, call, use); })) {}

PromiseWorker::Settled RepoJob::Settled(PromiseWorker::Settled then) && {
  return [count = std::move(count_), then = std::move(then)] {
    count->End();
    if (then) then();
  };
}

bool ParseOwnTransaction(const Napi::Object &o, const std::string &call) {
  Napi::Value txn = o.Get("transaction");
  if (!txn.IsString()) return true;
  std::string t = txn.As<Napi::String>();
  if (t == "own") return true;
  if (t == "caller") return false;
  throw Napi::TypeError::New(o.Env(), call + ": transaction must be 'own' or 'caller'");
}

// prepareTransaction(cancellable?) → Promise<boolean> (true when resuming an interrupted one).
Napi::Value RepoWrap::PrepareTransaction(const Napi::CallbackInfo &info) {
  CancelRef cancellable = CancelArg(info[0]);
  RethrowAsJs(info.Env(), [&] { RequireTransactionState(repo(), TxnState::None, "prepareTransaction"); });
  auto repo = Ref();
  auto resume = std::make_shared<gboolean>(FALSE);
  auto staging = std::make_shared<std::string>();
  RepoJob job(info.Env(), repo.get(), "prepareTransaction");
  TransactionState(repo.get()) = TxnState::Preparing;
  auto ok = std::make_shared<bool>(false);
  return RunRepoJob(
      info.Env(), "ostree-container:prepare-transaction", std::move(job),
      [=] {
        PrepareTransactionTracked(repo.get(), resume.get(), staging.get(), cancellable.get());
        *ok = true;
      },
      [resume](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, *resume); },
      [repo, staging, ok] {
        TransactionState(repo.get()) = *ok ? TxnState::Open : TxnState::None;
        TransactionStagingDir(repo.get()) = *ok ? *staging : "";
      });
}

// commitTransaction(cancellable?) → Promise<TransactionStats>
Napi::Value RepoWrap::CommitTransaction(const Napi::CallbackInfo &info) {
  CancelRef cancellable = CancelArg(info[0]);
  RethrowAsJs(info.Env(), [&] {
    RequireTransactionState(repo(), TxnState::Open, "commitTransaction");
    RequireNoWriters(repo(), "commitTransaction");
  });
  auto repo = Ref();
  auto stats = std::make_shared<OstreeRepoTransactionStats>();
  RepoJob job(info.Env(), repo.get(), "commitTransaction");
  TransactionState(repo.get()) = TxnState::Closing;
  return RunOstreeCall(
      info.Env(), "ostree-container:commit-transaction", std::move(job),
      [=](GError **error) { return ostree_repo_commit_transaction(repo.get(), stats.get(), cancellable.get(), error); },
      [stats](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("metadataObjectsTotal", stats->metadata_objects_total);
        o.Set("metadataObjectsWritten", stats->metadata_objects_written);
        o.Set("contentObjectsTotal", stats->content_objects_total);
        o.Set("contentObjectsWritten", stats->content_objects_written);
        o.Set("contentBytesWritten", static_cast<double>(stats->content_bytes_written));
        o.Set("devinoCacheHits", stats->devino_cache_hits);
        return o;
      },
      // A failed commit leaves libostree's transaction open: abort it next.
      [repo](bool ok) {
        TransactionState(repo.get()) = ok ? TxnState::None : TxnState::Open;
        if (ok) TransactionStagingDir(repo.get()).clear();  // libostree removed it
      });
}

// abortTransaction(cancellable?) → Promise<void>; a no-op without an active transaction.
Napi::Value RepoWrap::AbortTransaction(const Napi::CallbackInfo &info) {
  CancelRef cancellable = CancelArg(info[0]);
  if (TransactionState(repo()) == TxnState::None) {  // as libostree: nothing to abort
    auto d = Napi::Promise::Deferred::New(info.Env());
    d.Resolve(info.Env().Undefined());
    return d.Promise();
  }
  RethrowAsJs(info.Env(), [&] {
    RequireTransactionState(repo(), TxnState::Open, "abortTransaction");
    RequireNoWriters(repo(), "abortTransaction");
  });
  auto repo = Ref();
  RepoJob job(info.Env(), repo.get(), "abortTransaction");
  TransactionState(repo.get()) = TxnState::Closing;
  std::string staging = TransactionStagingDir(repo.get());
  // libostree's abort ignores its cancellable (ostree#1491): a cancelled abort is still an abort.
  (void)cancellable;
  return RunRepoJob(
      info.Env(), "ostree-container:abort-transaction", std::move(job),
      [=] { AbortTransactionAndClean(repo.get(), staging); }, nullptr,
      [repo] {
        TransactionState(repo.get()) = TxnState::None;
        TransactionStagingDir(repo.get()).clear();
      });
}

// transactionSetRef(remote | null, ref, checksum | null): records the ref change for commit;
// in memory only, so synchronous.
Napi::Value RepoWrap::TransactionSetRef(const Napi::CallbackInfo &info) {
  auto remote = OptStringArg(info[0], "transactionSetRef: remote");
  std::string ref = StringArg(info[1], "transactionSetRef: ref");
  auto csum = OptChecksumArg(info[2], "transactionSetRef: checksum");
  RethrowAsJs(info.Env(), [&] { RequireTransactionState(repo(), TxnState::Open, "transactionSetRef"); });
  // The ref becomes a path under refs/ at commit: validate it as ostree's own CLI does.
  GErr e;
  if ((remote && !ostree_validate_remote_name(remote->c_str(), e.out())) || !ostree_validate_rev(ref.c_str(), e.out()))
    throw ToJsError(info.Env(), e.Take());
  ostree_repo_transaction_set_ref(repo_.get(), OptCStr(remote), ref.c_str(), OptCStr(csum));
  return info.Env().Undefined();
}

// getConfig(group, key) → Promise<string | null>
Napi::Value RepoWrap::GetConfig(const Napi::CallbackInfo &info) {
  std::string group = StringArg(info[0], "getConfig: group");
  std::string key = StringArg(info[1], "getConfig: key");
  auto repo = Ref();
  auto out = std::make_shared<GStr>();
  return RunRepoJob(
      info.Env(), "ostree-container:get-config", RepoJob(info.Env(), repo.get(), "getConfig"),
      [=] {
        GKeyFile *kf = ostree_repo_get_config(repo.get());
        out->reset(g_key_file_get_string(kf, group.c_str(), key.c_str(), nullptr));
      },
      [out](Napi::Env env) { return StringOrNull(env, *out); });
}

// setConfig(group, key, value | null) → Promise<void>; null removes the key. Writes the
// config file and reloads it.
Napi::Value RepoWrap::SetConfig(const Napi::CallbackInfo &info) {
  std::string group = StringArg(info[0], "setConfig: group");
  std::string key = StringArg(info[1], "setConfig: key");
  auto value = OptStringArg(info[2], "setConfig: value");
  auto repo = Ref();
  RepoJob job(info.Env(), repo.get(), "setConfig", RepoUse::Config);
  return RunOstreeCall(info.Env(), "ostree-container:set-config", std::move(job), [=](GError **error) {
    GKeyFile *kf = ostree_repo_copy_config(repo.get());
    std::unique_ptr<GKeyFile, void (*)(GKeyFile *)> owned(kf, g_key_file_unref);
    if (value) g_key_file_set_string(kf, group.c_str(), key.c_str(), value->c_str());
    else g_key_file_remove_key(kf, group.c_str(), key.c_str(), nullptr);
    return ostree_repo_write_config(repo.get(), kf, error) && ostree_repo_reload_config(repo.get(), nullptr, error);
  });
}

// remoteAdd(name, url | null, options: Record<string, string | boolean | string[]>,
//           ifNotExists, cancellable?) → Promise<void>
Napi::Value RepoWrap::RemoteAdd(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info[0], "remoteAdd: name");
  auto url = OptStringArg(info[1], "remoteAdd: url");
  VarRef opts = ShareVariant(RemoteOptions(info[2]));
  bool if_not_exists = info[3].ToBoolean();
  CancelRef cancellable = CancelArg(info[4]);
  auto repo = Ref();
  RepoJob job(info.Env(), repo.get(), "remoteAdd", RepoUse::Config);
  return RunOstreeCall(info.Env(), "ostree-container:remote-add", std::move(job), [=](GError **error) {
    return ostree_repo_remote_change(
        repo.get(), nullptr,
        if_not_exists ? OSTREE_REPO_REMOTE_CHANGE_ADD_IF_NOT_EXISTS : OSTREE_REPO_REMOTE_CHANGE_ADD, name.c_str(),
        OptCStr(url), opts.get(), cancellable.get(), error);
  });
}

// remoteDelete(name, ifExists, cancellable?) → Promise<void>
Napi::Value RepoWrap::RemoteDelete(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info[0], "remoteDelete: name");
  bool if_exists = info[1].ToBoolean();
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  RepoJob job(info.Env(), repo.get(), "remoteDelete", RepoUse::Config);
  return RunOstreeCall(info.Env(), "ostree-container:remote-delete", std::move(job), [=](GError **error) {
    return ostree_repo_remote_change(
        repo.get(), nullptr, if_exists ? OSTREE_REPO_REMOTE_CHANGE_DELETE_IF_EXISTS : OSTREE_REPO_REMOTE_CHANGE_DELETE,
        name.c_str(), nullptr, nullptr, cancellable.get(), error);
  });
}

// remoteList() → Promise<string[]> (sorted)
Napi::Value RepoWrap::RemoteList(const Napi::CallbackInfo &info) {
  auto repo = Ref();
  auto out = std::make_shared<std::vector<std::string>>();
  return RunRepoJob(
      info.Env(), "ostree-container:remote-list", RepoJob(info.Env(), repo.get(), "remoteList"),
      [=] {
        guint n = 0;
        char **names = ostree_repo_remote_list(repo.get(), &n);
        for (guint i = 0; i < n; i++) out->emplace_back(names[i]);
        g_strfreev(names);
        std::sort(out->begin(), out->end());
      },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Array a = Napi::Array::New(env, out->size());
        for (size_t i = 0; i < out->size(); i++) a.Set(static_cast<uint32_t>(i), (*out)[i]);
        return a;
      });
}

// remoteGpgImport(name, keys: Uint8Array | null, keyIds: string[] | null, cancellable?)
//   → Promise<number> (keys imported). Null keys import from the user's default keyring.
Napi::Value RepoWrap::RemoteGpgImport(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info[0], "remoteGpgImport: name");
  BytesRef keys;
  if (!info[1].IsNull() && !info[1].IsUndefined()) keys = ShareBytes(BytesArg(info[1], "remoteGpgImport: keys"));
  auto key_ids = std::make_shared<std::vector<std::string>>();
  if (info[2].IsArray()) {
    Napi::Array a = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) key_ids->push_back(StringArg(a.Get(i), "remoteGpgImport: keyIds[]"));
  }
  CancelRef cancellable = CancelArg(info[3]);
  auto repo = Ref();
  auto imported = std::make_shared<guint>(0);
  return RunOstreeCall(
      info.Env(), "ostree-container:remote-gpg-import", RepoJob(info.Env(), repo.get(), "remoteGpgImport"),
      [=](GError **error) {
        GObj<GInputStream> stream;
        if (keys) stream.reset(g_memory_input_stream_new_from_bytes(keys.get()));
        std::vector<const char *> ids;
        for (const auto &k : *key_ids) ids.push_back(k.c_str());
        ids.push_back(nullptr);
        return ostree_repo_remote_gpg_import(repo.get(), name.c_str(), stream.get(),
                                             key_ids->empty() ? nullptr : ids.data(), imported.get(),
                                             cancellable.get(), error);
      },
      [imported](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *imported); });
}

// signatureVerifyCommitData(remote, commitBytes, detachedMetadataBytes, { noGpg, noSignapi })
//   → Promise<string> (the verification text).
Napi::Value RepoWrap::SignatureVerifyCommitData(const Napi::CallbackInfo &info) {
  std::string remote = StringArg(info[0], "signatureVerifyCommitData: remote");
  auto commit = ShareBytes(BytesArg(info[1], "signatureVerifyCommitData: commit"));
  auto meta = ShareBytes(BytesArg(info[2], "signatureVerifyCommitData: metadata"));
  int flags = OSTREE_REPO_VERIFY_FLAGS_NONE;
  if (Opt(info[3], "noGpg").ToBoolean()) flags |= OSTREE_REPO_VERIFY_FLAGS_NO_GPG;
  if (Opt(info[3], "noSignapi").ToBoolean()) flags |= OSTREE_REPO_VERIFY_FLAGS_NO_SIGNAPI;
  auto repo = Ref();
  auto out = std::make_shared<GStr>();
  return RunOstreeCall(
      info.Env(), "ostree-container:signature-verify", RepoJob(info.Env(), repo.get(), "signatureVerifyCommitData"),
      [=](GError **error) {
        char *text = nullptr;
        bool ok = ostree_repo_signature_verify_commit_data(repo.get(), remote.c_str(), commit.get(), meta.get(),
                                                           static_cast<OstreeRepoVerifyFlags>(flags), &text, error);
        out->reset(text);
        return ok;
      },
      [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *out ? out->get() : ""); });
}

// signCommit(checksum, keyId, homedir | null, cancellable?) → Promise<void> (GPG)
Napi::Value RepoWrap::SignCommit(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "signCommit: commit");
  std::string key = StringArg(info[1], "signCommit: keyId");
  auto homedir = OptStringArg(info[2], "signCommit: homedir");
  CancelRef cancellable = CancelArg(info[3]);
  auto repo = Ref();
  RepoJob job(info.Env(), repo.get(), "signCommit");
  return RunOstreeCall(info.Env(), "ostree-container:sign-commit", std::move(job), [=](GError **error) {
    return ostree_repo_sign_commit(repo.get(), csum.c_str(), key.c_str(), OptCStr(homedir), cancellable.get(), error);
  });
}

// prune({ refsOnly, noPrune, depth }, cancellable?) → Promise<{ objectsTotal, objectsPruned, bytesPruned }>
Napi::Value RepoWrap::Prune(const Napi::CallbackInfo &info) {
  int flags = OSTREE_REPO_PRUNE_FLAGS_NONE;
  if (Opt(info[0], "refsOnly").ToBoolean()) flags |= OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY;
  if (Opt(info[0], "noPrune").ToBoolean()) flags |= OSTREE_REPO_PRUNE_FLAGS_NO_PRUNE;
  int depth = DepthArg(Opt(info[0], "depth"), "prune: depth", -1);
  CancelRef cancellable = CancelArg(info[1]);
  auto repo = Ref();
  struct Out { gint total = 0, pruned = 0; guint64 size = 0; };
  auto out = std::make_shared<Out>();
  return RunOstreeCall(
      info.Env(), "ostree-container:prune", RepoJob(info.Env(), repo.get(), "prune"),
      [=](GError **error) {
        return ostree_repo_prune(repo.get(), static_cast<OstreeRepoPruneFlags>(flags), depth, &out->total,
                                 &out->pruned, &out->size, cancellable.get(), error);
      },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("objectsTotal", out->total);
        o.Set("objectsPruned", out->pruned);
        o.Set("bytesPruned", static_cast<double>(out->size));
        return o;
      });
}

// markCommitPartial(checksum, partial) → Promise<void>
Napi::Value RepoWrap::MarkCommitPartial(const Napi::CallbackInfo &info) {
  std::string csum = ChecksumArg(info[0], "markCommitPartial: commit");
  bool partial = info[1].ToBoolean();
  auto repo = Ref();
  RepoJob job(info.Env(), repo.get(), "markCommitPartial");
  return RunOstreeCall(info.Env(), "ostree-container:mark-partial", std::move(job), [=](GError **error) {
    return oc::MarkCommitPartial(repo.get(), csum.c_str(), partial, error);
  });
}

// pull(remoteOrUrl, { refs, mirror, untrusted, commitOnly, depth, gpgVerify, gpgVerifySummary,
//   overrideRemoteName }, cancellable?) → Promise<void>. A file:// URL pulls from a local repo.
Napi::Value RepoWrap::Pull(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string remote = StringArg(info[0], "pull: remote");
  Napi::Value o = info[1];
  GVariantBuilder b;
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  try {
    Napi::Value refs = Opt(o, "refs");
    if (!refs.IsUndefined() && !refs.IsNull())
      g_variant_builder_add(&b, "{sv}", "refs", PlainToVariant(refs, G_VARIANT_TYPE_STRING_ARRAY, "pull: refs"));
    int flags = OSTREE_REPO_PULL_FLAGS_NONE;
    if (Opt(o, "mirror").ToBoolean()) flags |= OSTREE_REPO_PULL_FLAGS_MIRROR;
    if (Opt(o, "untrusted").ToBoolean()) flags |= OSTREE_REPO_PULL_FLAGS_UNTRUSTED;
    if (Opt(o, "commitOnly").ToBoolean()) flags |= OSTREE_REPO_PULL_FLAGS_COMMIT_ONLY;
    g_variant_builder_add(&b, "{sv}", "flags", g_variant_new_int32(flags));
    Napi::Value depth = Opt(o, "depth");
    if (!depth.IsUndefined() && !depth.IsNull())
      g_variant_builder_add(&b, "{sv}", "depth", g_variant_new_int32(DepthArg(depth, "pull: depth", 0)));
    for (const char *k : {"gpgVerify", "gpgVerifySummary"}) {
      Napi::Value v = Opt(o, k);
      if (v.IsBoolean())
        g_variant_builder_add(&b, "{sv}", std::string(k) == "gpgVerify" ? "gpg-verify" : "gpg-verify-summary",
                              g_variant_new_boolean(v.As<Napi::Boolean>().Value()));
    }
    auto override_name = OptStringArg(Opt(o, "overrideRemoteName"), "pull: overrideRemoteName");
    if (override_name)
      g_variant_builder_add(&b, "{sv}", "override-remote-name", g_variant_new_string(override_name->c_str()));
  } catch (...) {
    g_variant_builder_clear(&b);
    throw;
  }
  VarRef opts = ShareVariant(g_variant_builder_end(&b));
  CancelRef cancellable = CancelArg(info[2]);
  auto repo = Ref();
  // A job, not a call: it waits on a network peer for as long as that peer takes.
  return RunOstreeCall(
      env, "ostree-container:pull", RepoJob(env, repo.get(), "pull"),
      [=](GError **error) {
        return ostree_repo_pull_with_options(repo.get(), remote.c_str(), opts.get(), nullptr, cancellable.get(), error);
      },
      nullptr, nullptr, JobKind::Job);
}

Napi::Object RepoToJs(Napi::Env env, OstreeRepo *repo) { return RepoWrap::Wrap(env, repo); }

GObj<OstreeRepo> RepoFromJs(const Napi::Value &v, const char *what) {
  if (!IsInstance(v, "Repo")) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Repo");
  RepoWrap *w = RepoWrap::Unwrap(v.As<Napi::Object>());
  return GObj<OstreeRepo>(OSTREE_REPO(g_object_ref(w->repo())));
}

void InitRepo(Napi::Env env, Napi::Object exports) {
  RepoWrap::Init(env, exports);
  InitDevInoCache(env, exports);
  InitVariant(env, exports);
}

}  // namespace oc
