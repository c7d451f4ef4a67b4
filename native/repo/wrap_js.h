// Internal to the Repo binding (repo/*_js.cc), and argument helpers other bindings share: the
// ObjectWrap class. Methods are grouped by concept: repo_js.cc (open/create, refs, transactions,
// config, remotes, signatures, pull, prune), objects_js.cc (commits, detached metadata, metadata
// and content objects), tree_js.cc (mutable trees, writing commits, checkout, the devino cache),
// scan.cc (the tree scan of automatic chunking).
#pragma once

#include <napi.h>
#include <ostree.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "repo/repo_js.h"
#include "util/args.h"
#include "util/async.h"
#include "util/classes.h"
#include "util/errors.h"
#include "util/failure.h"
#include "util/gobj.h"

namespace oc {

// GObject refs shared by the worker lambdas (std::function needs copyable captures).
template <typename T>
std::shared_ptr<T> Share(GObj<T> o) {
  return std::shared_ptr<T>(o.release(), [](T *p) { if (p) g_object_unref(p); });
}
using RepoRef = std::shared_ptr<OstreeRepo>;
using CancelRef = std::shared_ptr<GCancellable>;
using VarRef = std::shared_ptr<GVariant>;
using BytesRef = std::shared_ptr<GBytes>;

// Sinks a floating (or takes an owned) GVariant; null stays null.
inline VarRef ShareVariant(GVariant *floating_or_owned) {
  return VarRef(floating_or_owned ? g_variant_take_ref(floating_or_owned) : nullptr,
                [](GVariant *v) { if (v) g_variant_unref(v); });
}
inline BytesRef ShareBytes(GBytesPtr b) {
  return BytesRef(b.release(), [](GBytes *p) { if (p) g_bytes_unref(p); });
}

class RepoWrap : public TaggedWrap<RepoWrap> {
 public:
  static constexpr const char *kClassName = "Repo";
  static void Init(Napi::Env env, Napi::Object exports);
  explicit RepoWrap(const Napi::CallbackInfo &info);
  static Napi::Object Wrap(Napi::Env env, OstreeRepo *repo);

  OstreeRepo *repo() const { return repo_.get(); }
  RepoRef Ref() const { return Share(GObj<OstreeRepo>(OSTREE_REPO(g_object_ref(repo_.get())))); }

 private:
  // repo.cc
  static Napi::Value Open(const Napi::CallbackInfo &info);
  static Napi::Value Create(const Napi::CallbackInfo &info);
  static Napi::Value InitAt(Napi::Env env, const char *name, const std::string &path, const char *verb,
                            std::function<gboolean(OstreeRepo *, GError **)> init);
  Napi::Value Path(const Napi::CallbackInfo &info);
  Napi::Value Mode(const Napi::CallbackInfo &info);
  Napi::Value Dfd(const Napi::CallbackInfo &info);
  Napi::Value IsSystem(const Napi::CallbackInfo &info);
  Napi::Value ResolveRev(const Napi::CallbackInfo &info);
  Napi::Value ListRefs(const Napi::CallbackInfo &info);
  Napi::Value SetRefImmediate(const Napi::CallbackInfo &info);
  Napi::Value PrepareTransaction(const Napi::CallbackInfo &info);
  Napi::Value CommitTransaction(const Napi::CallbackInfo &info);
  Napi::Value AbortTransaction(const Napi::CallbackInfo &info);
  Napi::Value TransactionSetRef(const Napi::CallbackInfo &info);
  Napi::Value GetConfig(const Napi::CallbackInfo &info);
  Napi::Value SetConfig(const Napi::CallbackInfo &info);
  Napi::Value RemoteAdd(const Napi::CallbackInfo &info);
  Napi::Value RemoteDelete(const Napi::CallbackInfo &info);
  Napi::Value RemoteList(const Napi::CallbackInfo &info);
  Napi::Value RemoteGpgImport(const Napi::CallbackInfo &info);
  Napi::Value SignatureVerifyCommitData(const Napi::CallbackInfo &info);
  Napi::Value SignCommit(const Napi::CallbackInfo &info);
  Napi::Value Prune(const Napi::CallbackInfo &info);
  Napi::Value MarkCommitPartial(const Napi::CallbackInfo &info);
  Napi::Value Pull(const Napi::CallbackInfo &info);
  // repo/objects.cc
  Napi::Value HasObject(const Napi::CallbackInfo &info);
  Napi::Value TraverseCommit(const Napi::CallbackInfo &info);
  Napi::Value LoadCommit(const Napi::CallbackInfo &info);
  Napi::Value ReadDetachedMetadata(const Napi::CallbackInfo &info);
  Napi::Value WriteDetachedMetadata(const Napi::CallbackInfo &info);
  Napi::Value LoadVariant(const Napi::CallbackInfo &info);
  Napi::Value LoadMetadataBytes(const Napi::CallbackInfo &info);
  Napi::Value WriteMetadata(const Napi::CallbackInfo &info);
  Napi::Value QueryContent(const Napi::CallbackInfo &info);
  Napi::Value ReadContent(const Napi::CallbackInfo &info);
  Napi::Value WriteRegfileInline(const Napi::CallbackInfo &info);
  Napi::Value WriteRegfileFromFd(const Napi::CallbackInfo &info);
  Napi::Value WriteSymlink(const Napi::CallbackInfo &info);
  // repo/scan.cc
  Napi::Value ScanTree(const Napi::CallbackInfo &info);
  // repo/tree.cc
  Napi::Value WriteMtree(const Napi::CallbackInfo &info);
  Napi::Value WriteCommit(const Napi::CallbackInfo &info);
  Napi::Value Checkout(const Napi::CallbackInfo &info);

  GObj<OstreeRepo> repo_;
};

// Argument helpers; `what` names the argument in the TypeError ("resolveRev: rev").
// (StringArg, OptStringArg: util/args.h)
std::string ChecksumArg(const Napi::Value &v, const char *what);                    // validated sha256 hex
std::optional<std::string> OptChecksumArg(const Napi::Value &v, const char *what);  // undefined/null → nullopt
uint32_t Uint32Arg(const Napi::Value &v, const char *what);
// A commit depth: -1 (unlimited) … INT_MAX; `dflt` for undefined/null.
int DepthArg(const Napi::Value &v, const char *what, int dflt);
CancelRef CancelArg(const Napi::Value &v);
// Object type names as libostree prints them ("commit", "dirtree", …); TypeError on others.
OstreeObjectType ObjectTypeArg(const Napi::Value &v, const char *what);
// Optional property `name` of an options object (undefined when `opts` is not an object).
Napi::Value Opt(const Napi::Value &opts, const char *name);
// Copies a Uint8Array argument.
GBytesPtr BytesArg(const Napi::Value &v, const char *what);
// A plain JS value as a GVariant of `type` (see PlainToVariant), or null for undefined/null.
VarRef OptVariantArg(const Napi::Value &v, const GVariantType *type, const char *what);
// The C string libostree takes for an optional argument.
inline const char *OptCStr(const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; }

// Result builders for the `done` step of PromiseWorker::Run.
Napi::Value StringPairsToJs(Napi::Env env, const std::vector<std::pair<std::string, std::string>> &pairs);
Napi::Value StringOrNull(Napi::Env env, const GStr &s);

// Queues one libostree call that returns gboolean and sets a GError (libostree's convention,
// turned into a Failure here): the error rejects the promise, otherwise `done` (undefined without
// one) resolves it. `job` counts it on its repo. `settled(ok)` (optional) runs on the main thread
// when the call is over.
template <typename Call>
Napi::Promise RunOstreeCall(Napi::Env env, const char *name, RepoJob job, Call call,
                            PromiseWorker::Done done = nullptr, std::function<void(bool ok)> settled = nullptr,
                            JobKind kind = JobKind::Call) {
  auto ok = std::make_shared<bool>(false);
  return PromiseWorker::Run(
      env, name,
      [call, ok] {
        GErr e;
        if (!call(e.out())) Fail(e);
        *ok = true;
      },
      std::move(done),
      std::move(job).Settled(settled ? PromiseWorker::Settled([settled, ok] { settled(*ok); }) : nullptr), kind);
}

// The devino cache JS class (repo/tree.cc); Init registers it.
void InitDevInoCache(Napi::Env env, Napi::Object exports);

}  // namespace oc
