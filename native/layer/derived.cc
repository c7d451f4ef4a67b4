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

#include "repo/sepolicy.h"
#include "repo/transaction.h"
#include "repo/tree.h"
#include "scheduler.h"
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

void RunFilter(LayerInput &in, Fd &pipe_out, int spool_dfd, const FilterConfig &config, GCancellable *c,
               const std::atomic<bool> &importer_done, FilterOutcome &out) {
  try {
    FdSink sink(pipe_out.get(), c);
    out.filtered = FilterLayerTar(in.tar(), sink, config, spool_dfd);
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

DerivedResult ImportDerivedLayer(OstreeRepo *repo, int input_fd, const DerivedSpec &spec, GCancellable *c) {
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

  FilterConfig filter_config = spec.filter;
  filter_config.share_empty_files = filter_config.share_empty_files && !sepolicy;  // labels go by path

  DerivedResult res;
  std::optional<OwnTransaction> txn;
  LayerInput input(input_fd, spec.compression, c, spec.bytes_read, TarReader::Sparse::Expand);
  JobSet filter;
  Fd pipe_in, pipe_out;
  std::atomic<bool> importer_done{false};
  FilterOutcome outcome;
  // Waits for the filter. After a failure it is stopped: a broken pipe ends its writes, and its
  // input ends at once (it may be waiting on a pipe whose writer never closes it). After
  // success it drains the rest of the input, so the blob's digests are checked.
  auto stop_filter = [&](bool failed) {
    importer_done = true;
    if (failed) input.Stop();
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
    if (!filter.Start([&] { RunFilter(input, pipe_out, repo_tmp.get(), filter_config, c, importer_done, outcome); }))
      Fail("Cannot start the layer filter's thread");

    GObj<OstreeMutableTree> mtree(ostree_mutable_tree_new());
    GErr imp;
    bool imported = ostree_repo_write_archive_to_mtree_from_fd(repo, pipe_in.get(), mtree.get(), modifier.get(), TRUE,
                                                               c, imp.out());
    stop_filter(!imported);
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
    stop_filter(true);
    txn.reset();
    throw;
  }
}

}  // namespace oc
