// The repository state machine: what the binding knows of each OstreeRepo's transaction and of
// the native jobs running on it, checked before any call that libostree would let race or
// assert (JS thread only, Node-free: checks throw a Failure with code TRANSACTION_STATE or BUSY);
// and the transactions themselves, whose staging directories are removed after an abort.
#pragma once

#include <ostree.h>

#include <memory>
#include <string>

namespace oc {

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

// Throws a TRANSACTION_STATE Failure naming `call` unless the repo is in state `want`.
void RequireTransactionState(OstreeRepo *repo, TxnState want, const std::string &call);
// commitTransaction/abortTransaction must not pull the staging directory from under a write:
// a BUSY Failure while jobs write into the transaction.
void RequireNoWriters(OstreeRepo *repo, const std::string &call);

// How a native job uses its OstreeRepo, for the per-repository job count below.
enum class RepoUse {
  Read,       // reads the repo or writes outside the caller's transaction
  CallerTxn,  // writes objects into the transaction the caller holds open: refused (TRANSACTION_STATE)
              // unless one is open, so nothing lands in an import's own transaction
  OwnTxn,     // runs a transaction of its own (an import): the repo must have none open, and is
              // marked TxnState::Import until the job ends
  Config,     // rewrites and reloads the repo config (libostree frees the old one unlocked)
};

// One native job on an OstreeRepo, counted from construction until End() (better-sqlite3 style
// refusal instead of locks). Construction throws a BUSY Failure naming `call` when the job would
// race: a config change while any job runs, any job while a config change runs, a write into the
// caller's transaction while it is committed or aborted; and a TRANSACTION_STATE Failure when an
// OwnTxn job finds a transaction open.
class RepoJobCount {
 public:
  RepoJobCount(OstreeRepo *repo, const char *call, RepoUse use);
  ~RepoJobCount() { End(); }
  RepoJobCount(const RepoJobCount &) = delete;
  RepoJobCount &operator=(const RepoJobCount &) = delete;
  void End();
  struct Book;  // per OstreeRepo (transaction.cc)

 private:
  OstreeRepo *repo_;  // a reference of its own (it keeps the book alive)
  Book *book_;
  RepoUse use_;
  bool ended_ = false;
};

// ostree_repo_prepare_transaction, noting the staging directory it locked (`staging`); throws.
void PrepareTransactionTracked(OstreeRepo *repo, gboolean *resumed, std::string *staging, GCancellable *c);
// ostree_repo_abort_transaction followed by the removal of `staging` (libostree keeps it for
// reuse, but a failed import must leave no temp files behind); throws.
void AbortTransactionAndClean(OstreeRepo *repo, const std::string &staging);

// ostree_repo_mark_commit_partial with an error also when removing the marker fails: libostree
// then returns FALSE without setting one (ostree_repo_mark_commit_partial_reason passes no
// GError to its unlink), but errno still holds the unlink's.
gboolean MarkCommitPartial(OstreeRepo *repo, const char *checksum, gboolean partial, GError **error);

// A transaction a native job opens and commits itself; aborted (staging removed) when the object
// goes without Commit().
class OwnTransaction {
 public:
  OwnTransaction(OstreeRepo *repo, GCancellable *c);
  ~OwnTransaction();
  OwnTransaction(const OwnTransaction &) = delete;
  OwnTransaction &operator=(const OwnTransaction &) = delete;
  void Commit(GCancellable *c);

 private:
  OstreeRepo *repo_;
  std::string staging_;
  bool open_ = false;
};

}  // namespace oc
