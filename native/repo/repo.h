// The `Repo` class: a JS handle on an OstreeRepo. Other native files (layer import/export)
// take a Repo argument and borrow its OstreeRepo through RepoFromJs.
#pragma once

#include <napi.h>
#include <ostree.h>

#include <memory>
#include <string>

#include "util/async.h"
#include "util/gobj.h"

namespace oc {

// Owners for libostree's non-GObject refcounted types.
struct CommitModifierUnref {
  void operator()(OstreeRepoCommitModifier *m) const { if (m) ostree_repo_commit_modifier_unref(m); }
};
using CommitModifier = std::unique_ptr<OstreeRepoCommitModifier, CommitModifierUnref>;
struct DevInoCacheUnref {
  void operator()(OstreeRepoDevInoCache *c) const { if (c) ostree_repo_devino_cache_unref(c); }
};
using DevInoCachePtr = std::unique_ptr<OstreeRepoDevInoCache, DevInoCacheUnref>;

// A new reference to the OstreeRepo behind a JS Repo object; throws a TypeError naming
// `what` if `v` is not an open Repo.
GObj<OstreeRepo> RepoFromJs(const Napi::Value &v, const char *what = "repo");

// What the binding knows of an OstreeRepo's transaction (JS thread only). libostree asserts or
// races when a transaction is misused (set_ref outside one, two prepares in flight on pool
// threads), so every transaction call checks and updates this first.
enum class TxnState {
  None,
  Preparing,  // prepareTransaction running
  Open,       // prepared; objects and refs go into it
  Closing,    // commitTransaction or abortTransaction running
  Import,     // a native import running its own transaction
};
TxnState &TransactionState(OstreeRepo *repo);
// The tmp/staging-* directory of the transaction the JS side prepared ("" when unknown).
std::string &TransactionStagingDir(OstreeRepo *repo);

// repo/staging.cc: ostree_repo_prepare_transaction, noting the staging directory it locked; and
// ostree_repo_abort_transaction followed by the removal of that directory (libostree keeps it
// for reuse, but a failed import must leave no temp files behind).
bool PrepareTransactionTracked(OstreeRepo *repo, gboolean *resumed, std::string *staging, GCancellable *c,
                               GError **error);
bool AbortTransactionAndClean(OstreeRepo *repo, const std::string &staging, GError **error);
// Throws an Error naming `call` unless the repo is in state `want`.
void RequireTransactionState(Napi::Env env, OstreeRepo *repo, TxnState want, const char *call);

// For a native import's `transaction` option: true for 'own' (the default: the import opens and
// commits its own), false for 'caller' (it writes into the transaction the caller holds open).
bool ParseOwnTransaction(const Napi::Object &o, const std::string &call);
// Before such an import starts: the repo must be free (own) or in the caller's open transaction
// (caller), else an Error naming `call (transaction '…')`; with its own, the repo is marked as
// importing until the job resets it.
void ClaimImportTransaction(Napi::Env env, OstreeRepo *repo, bool own, const std::string &call);

// How a native job uses its OstreeRepo, for the per-repository job count below.
enum class RepoUse {
  Read,       // reads the repo or writes outside the caller's transaction
  CallerTxn,  // writes objects into the transaction the caller holds open
  Config,     // rewrites and reloads the repo config (libostree frees the old one unlocked)
};

// One native job on an OstreeRepo, counted from construction until its settled step (JS thread
// only; better-sqlite3 style refusal instead of locks). Construction throws an Error with code
// 'BUSY' naming `call` when the job would race: a config change while any job runs, any job while
// a config change runs, a write into the caller's transaction while it is committed or aborted.
// commitTransaction/abortTransaction refuse while CallerTxn jobs run.
class RepoJob {
 public:
  RepoJob(Napi::Env env, OstreeRepo *repo, const char *call, RepoUse use = RepoUse::Read);
  // The job's `settled` step for PromiseWorker::Run: ends the count, then runs `then`. If it
  // never runs (the job was not queued), the count ends when the last copy is destroyed.
  PromiseWorker::Settled Settled(PromiseWorker::Settled then = nullptr) &&;

 private:
  struct Count;
  std::shared_ptr<Count> count_;
};
// PromiseWorker::Run for a job counted by `job` (its settled step ends the count, then `settled`).
inline Napi::Promise RunRepoJob(Napi::Env env, const char *name, RepoJob job, PromiseWorker::Work work,
                                PromiseWorker::Done done = nullptr, PromiseWorker::Settled settled = nullptr) {
  return PromiseWorker::Run(env, name, std::move(work), std::move(done), std::move(job).Settled(std::move(settled)));
}

// A JS Repo for an OstreeRepo obtained elsewhere (e.g. a sysroot's repo); takes a new reference.
Napi::Object RepoToJs(Napi::Env env, OstreeRepo *repo);

}  // namespace oc
