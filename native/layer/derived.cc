// The derived-layer job. Two threads: the filter thread reads and decompresses the layer,
// filters it (store/filter.h) and writes the result into a pipe; the job's own thread feeds that
// pipe to ostree_repo_write_archive_to_mtree_from_fd, the importer behind
// `ostree commit --tree=tar=… --tar-autocreate-parents`, so commits equal upstream's.
#include "layer/derived.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <optional>

#include "layer/blob_js.h"
#include "modules.h"
#include "repo/repo_js.h"
#include "repo/sepolicy.h"
#include "repo/tree.h"
#include "scheduler.h"
#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/errors.h"
#include "util/failure.h"
#include "util/tempdir.h"

namespace oc {
namespace {

// What the filter thread hands back.
struct FilterOutcome {
  ErrorInfo error;
  bool error_after_close = false;  // failed once the importer had stopped reading (a broken pipe)
  FilteredCounts filtered;
  BlobDigests digests;
};

void RunFilter(int input_fd, Fd &pipe_out, int spool_dfd, const DerivedSpec &spec, GCancellable *c,
               const std::atomic<bool> &importer_done, FilterOutcome &out) {
  try {
    LayerInput in(input_fd, spec.compression, c, spec.bytes_read);
    FdSink sink(pipe_out.get(), c);
    out.filtered = FilterLayerTar(in.tar(), sink, spec.filter, spool_dfd);
    pipe_out.reset();  // end of the filtered tar: the importer can finish while we drain
    in.tar().Drain();
    out.digests = in.Digests();
  } catch (...) {
    // Nothing may escape a thread (std::terminate): every failure is reported to the job.
    out.error = CurrentExceptionInfo();
  }
  if (out.error) out.error_after_close = importer_done.load();
  pipe_out.reset();
}

std::string CommitLayerTree(OstreeRepo *repo, OstreeMutableTree *mtree, const DerivedSpec &spec, GCancellable *c) {
  // As `--add-metadata-string=ostree.importer.version=<v> --no-bindings`.
  GVariantBuilder b;
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&b, "{sv}", "ostree.importer.version", g_variant_new_string(spec.importer_version.c_str()));
  GVar metadata = TakeVariant(g_variant_builder_end(&b));
  CommitFields fields;
  fields.metadata = metadata.get();
  fields.timestamp = spec.timestamp;
  return CommitTree(repo, mtree, fields, c);
}

}  // namespace

DerivedResult ImportDerivedLayer(OstreeRepo *repo, const DerivedSpec &spec, GCancellable *c) {
  InputFile input(spec.fd, spec.path);
  const int repo_dfd = ostree_repo_get_dfd(repo);
  Fd repo_tmp(openat(repo_dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!repo_tmp) FailErrno("Opening the repository's tmp/", errno);

  // The modifier `ostree commit` would use: bare-user-only repos get canonical permissions and
  // no xattrs; `--selinux-policy` labels from the base's policy.
  int flags = OSTREE_REPO_COMMIT_MODIFIER_FLAGS_NONE;
  if (ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_BARE_USER_ONLY)
    flags |= OSTREE_REPO_COMMIT_MODIFIER_FLAGS_CANONICAL_PERMISSIONS | OSTREE_REPO_COMMIT_MODIFIER_FLAGS_SKIP_XATTRS;
  // §3.1.5: the base commit's policy, checked out for the job's duration.
  std::unique_ptr<RepoTempDir> policy_dir;
  GObj<OstreeSePolicy> sepolicy;
  if (spec.selinux && !spec.base.empty()) {
    WithContext("tar: Preparing sepolicy", [&] {
      policy_dir = std::make_unique<RepoTempDir>(repo_dfd, "selinux-");
      sepolicy = SePolicyFromCommit(repo, spec.base, policy_dir->fd(), c);
    });
  }
  CommitModifier modifier;
  if (flags != OSTREE_REPO_COMMIT_MODIFIER_FLAGS_NONE || sepolicy) {
    modifier.reset(ostree_repo_commit_modifier_new(static_cast<OstreeRepoCommitModifierFlags>(flags), nullptr, nullptr,
                                                   nullptr));
    if (sepolicy) ostree_repo_commit_modifier_set_sepolicy(modifier.get(), sepolicy.get());
  }

  DerivedResult res;
  std::optional<OwnTransaction> txn;
  JobSet filter;
  Fd pipe_in, pipe_out;
  std::atomic<bool> importer_done{false};
  FilterOutcome outcome;
  // Stops the filter (a broken pipe ends its writes) and waits for it.
  auto stop_filter = [&] {
    importer_done = true;
    pipe_in.reset();
    filter.Join();
  };
  try {
    // The transaction state was checked and set on the JS thread (ImportDerivedLayerJs).
    if (spec.own_transaction) txn.emplace(repo, c);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) FailErrno("pipe", errno);
    pipe_in.reset(fds[0]);
    pipe_out.reset(fds[1]);
    if (!filter.Start([&] { RunFilter(input.fd(), pipe_out, repo_tmp.get(), spec, c, importer_done, outcome); }))
      Fail("Cannot start the layer filter's thread");

    GObj<OstreeMutableTree> mtree(ostree_mutable_tree_new());
    GErr imp;
    bool imported = ostree_repo_write_archive_to_mtree_from_fd(repo, pipe_in.get(), mtree.get(), modifier.get(), TRUE,
                                                               c, imp.out());
    stop_filter();
    // The filter's own failure (bad input, cancellation) explains the importer's "truncated
    // archive"; a filter that only lost its reader does not explain anything.
    if (outcome.error && !outcome.error_after_close) throw Failure(outcome.error);
    if (!imported) Fail(imp);
    if (outcome.error) throw Failure(outcome.error);

    res.commit = WithContext("Writing commit", [&] { return CommitLayerTree(repo, mtree.get(), spec, c); });
    if (!spec.ref.empty()) ostree_repo_transaction_set_ref(repo, nullptr, spec.ref.c_str(), res.commit.c_str());
    if (txn) txn->Commit(c);
    res.filtered = std::move(outcome.filtered);
    static_cast<BlobDigests &>(res) = outcome.digests;
    return res;
  } catch (...) {
    stop_filter();
    txn.reset();
    throw;
  }
}

namespace {

bool OptBool(const Napi::Object &o, const char *key) { return o.Get(key).ToBoolean(); }

// importDerivedLayer(repo, { fd | path, mediaType, base?, selinux?, allowNonusr?, retainVar?,
//                    importerVersion, ref?, transaction?: 'own' | 'caller', timestamp?,
//                    progress?: BigUint64Array (element 0: input bytes read so far) }, cancellable?)
//   → Promise<{ commit, filtered: { key: count }, diffId, digest, size, uncompressedSize }>
Napi::Value ImportDerivedLayerJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto repo = std::make_shared<GObj<OstreeRepo>>(RepoFromJs(info[0]));
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "importDerivedLayer: options must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  auto spec = std::make_shared<DerivedSpec>();
  ParseFdOrPath(o, "importDerivedLayer", &spec->fd, &spec->path);
  spec->compression = ParseMediaType(o, "importDerivedLayer");
  Napi::Value base = o.Get("base");
  if (base.IsString()) spec->base = base.As<Napi::String>();
  else if (!base.IsUndefined() && !base.IsNull()) throw Napi::TypeError::New(env, "importDerivedLayer: base must be a string");
  if (!spec->base.empty() && !ostree_validate_checksum_string(spec->base.c_str(), nullptr))
    throw Napi::TypeError::New(env, "importDerivedLayer: base must be a commit checksum");
  spec->selinux = OptBool(o, "selinux");
  spec->filter.allow_nonusr = OptBool(o, "allowNonusr");
  spec->filter.remap_var = !OptBool(o, "retainVar");
  if (!o.Get("importerVersion").IsString())
    throw Napi::TypeError::New(env, "importDerivedLayer: importerVersion must be a string");
  spec->importer_version = o.Get("importerVersion").As<Napi::String>();
  Napi::Value ref = o.Get("ref");
  if (ref.IsString()) {
    spec->ref = ref.As<Napi::String>();
    if (!ostree_validate_rev(spec->ref.c_str(), nullptr))
      throw Napi::TypeError::New(env, "importDerivedLayer: invalid ref '" + spec->ref + "'");
  } else if (!ref.IsUndefined() && !ref.IsNull()) {
    throw Napi::TypeError::New(env, "importDerivedLayer: ref must be a string");
  }
  spec->own_transaction = ParseOwnTransaction(o, "importDerivedLayer");
  Napi::Value ts = o.Get("timestamp");
  if (ts.IsNumber()) {
    spec->timestamp = SizeArg(ts, "importDerivedLayer: timestamp");
  } else if (!ts.IsUndefined() && !ts.IsNull()) {
    throw Napi::TypeError::New(env, "importDerivedLayer: timestamp must be a number (seconds)");
  }
  ProgressSlot progress = ParseProgressSlot(o, "importDerivedLayer");
  spec->bytes_read = progress.slot;
  auto cancellable = std::make_shared<GObj<GCancellable>>(Cancellable::From(info[2]));
  auto result = std::make_shared<DerivedResult>();
  RepoJob job = spec->own_transaction
                    ? RepoJob(env, repo->get(), "importDerivedLayer (transaction 'own')", RepoUse::OwnTxn)
                    : RepoJob(env, repo->get(), "importDerivedLayer (transaction 'caller')", RepoUse::CallerTxn);
  return RunRepoJob(
      env, "ostree-container:import-derived-layer", std::move(job),
      [repo, spec, cancellable, result, keep = progress.keep] {
        *result = ImportDerivedLayer(repo->get(), *spec, cancellable->get());
      },
      [result](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("commit", result->commit);
        Napi::Object filtered = Napi::Object::New(env);
        for (const auto &[k, n] : result->filtered) filtered.Set(k, Napi::Number::New(env, n));
        o.Set("filtered", filtered);
        SetBlobDigests(env, o, *result);
        return o;
      },
      nullptr, JobKind::Job);
}

// normalizeLayerPath(path, { allowNonusr?, retainVar? }) → { path } | { filtered }: §3.2 for
// one path (tests and diagnostics).
Napi::Value NormalizeLayerPathJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "normalizeLayerPath: path must be a string");
  FilterConfig config;
  if (info[1].IsObject()) {
    config.allow_nonusr = OptBool(info[1].As<Napi::Object>(), "allowNonusr");
    config.remap_var = !OptBool(info[1].As<Napi::Object>(), "retainVar");
  }
  try {
    NormalizedPath n = NormalizePath(info[0].As<Napi::String>(), config);
    Napi::Object o = Napi::Object::New(env);
    o.Set(n.filtered ? "filtered" : "path", n.path);
    return o;
  } catch (const Failure &f) {
    throw ToJsError(env, f.info);
  }
}

}  // namespace

void InitLayerDerived(Napi::Env env, Napi::Object exports) {
  exports.Set("importDerivedLayer", Napi::Function::New(env, ImportDerivedLayerJs, "importDerivedLayer"));
  exports.Set("normalizeLayerPath", Napi::Function::New(env, NormalizeLayerPathJs, "normalizeLayerPath"));
}

}  // namespace oc
