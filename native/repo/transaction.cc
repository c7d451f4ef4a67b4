// The repository state machine (transaction state and job counts per OstreeRepo) and the
// transactions themselves.
//
// Staging directories (repo/tmp/staging-*): libostree keeps the one of an aborted transaction,
// unlocked, for a day so that a later transaction can reuse its staged objects. A failed import
// must leave no temp files — after a full disk they are exactly the space the repository needs
// back — so the binding notes which directory its transaction locked and removes it after the
// abort, once it can take the lock itself.
#include "repo/transaction.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>

#include "util/failure.h"
#include "util/gobj.h"
#include "util/tempdir.h"

namespace oc {

// ---- the state machine ----

struct RepoJobCount::Book {
  TxnState state = TxnState::None;
  std::string staging;
  int jobs = 0;                       // native jobs in flight on this OstreeRepo
  int writers = 0;                    // … of which write into the caller's transaction
  const char *config_call = nullptr;  // the config change in flight, if any

  static Book &Of(OstreeRepo *repo) {
    static const GQuark key = g_quark_from_static_string("ostree-container-transaction-state");
    auto *book = static_cast<Book *>(g_object_get_qdata(G_OBJECT(repo), key));
    if (!book) {
      book = new Book();
      g_object_set_qdata_full(G_OBJECT(repo), key, book, [](gpointer p) { delete static_cast<Book *>(p); });
    }
    return *book;
  }
};
using Book = RepoJobCount::Book;

TxnState &TransactionState(OstreeRepo *repo) { return Book::Of(repo).state; }
std::string &TransactionStagingDir(OstreeRepo *repo) { return Book::Of(repo).staging; }

namespace {
[[noreturn]] void FailBusy(const std::string &call, const std::string &why, int waiting) {
  Fail(call + ": repository is busy (" + why + "); wait for " + (waiting == 1 ? "it" : "them") + " to finish", "BUSY");
}
std::string JobCount(int n, const char *what) { return std::to_string(n) + (n == 1 ? " job " : " jobs ") + what; }
}  // namespace

void RequireTransactionState(OstreeRepo *repo, TxnState want, const std::string &call) {
  TxnState now = TransactionState(repo);
  if (now == want) return;
  const char *why = "";
  switch (now) {
    case TxnState::None: why = "no transaction is open (call prepareTransaction first)"; break;
    case TxnState::Preparing: why = "prepareTransaction has not finished"; break;
    case TxnState::Open: why = "another transaction is in progress on this repository"; break;
    case TxnState::Closing: why = "the transaction is being committed or aborted"; break;
    case TxnState::Import: why = "an import with its own transaction is running on this repository"; break;
  }
  Fail(call + ": " + why, "TRANSACTION_STATE");
}

void RequireNoWriters(OstreeRepo *repo, const std::string &call) {
  int n = Book::Of(repo).writers;
  if (n > 0) FailBusy(call, JobCount(n, "writing into the transaction"), n);
}

RepoJobCount::RepoJobCount(OstreeRepo *repo, const char *call, RepoUse use) : repo_(repo), book_(&Book::Of(repo)), use_(use) {
  Book &b = *book_;
  if (b.config_call) FailBusy(call, std::string(b.config_call) + " is changing its config", 1);
  if (use == RepoUse::Config && b.jobs > 0) FailBusy(call, JobCount(b.jobs, "running"), b.jobs);
  if (use == RepoUse::CallerTxn) {
    if (b.state == TxnState::Closing) FailBusy(call, "its transaction is being committed or aborted", 1);
    // Never into a native import's own transaction (its abort would drop what was reported
    // written), nor outside one.
    RequireTransactionState(repo, TxnState::Open, call);
  }
  if (use == RepoUse::OwnTxn) {
    RequireTransactionState(repo, TxnState::None, call);
    b.state = TxnState::Import;
  }
  g_object_ref(repo_);
  b.jobs++;
  if (use == RepoUse::CallerTxn) b.writers++;
  if (use == RepoUse::Config) b.config_call = call;
}

void RepoJobCount::End() {
  if (ended_) return;
  ended_ = true;
  book_->jobs--;
  if (use_ == RepoUse::CallerTxn) book_->writers--;
  if (use_ == RepoUse::Config) book_->config_call = nullptr;
  if (use_ == RepoUse::OwnTxn) book_->state = TxnState::None;
  g_object_unref(repo_);
}

// ---- transactions and their staging directories ----

namespace {

constexpr const char kStagingPrefix[] = "staging-";

int OpenTmp(OstreeRepo *repo) { return openat(ostree_repo_get_dfd(repo), "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC); }

// libglnx locks tmp/<dir>-lock with an open-file-description write lock (glnx_make_lock_file);
// OFD locks conflict across descriptors even within one process, so this sees our own too.
struct flock WholeFile(short type) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  return fl;
}

bool IsLocked(int tmp, const std::string &dir) {
  Fd lock(openat(tmp, (dir + "-lock").c_str(), O_RDONLY | O_CLOEXEC));
  if (lock.get() < 0) return false;
  struct flock fl = WholeFile(F_WRLCK);
  return fcntl(lock.get(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

std::set<std::string> LockedStagingDirs(int tmp) {
  std::set<std::string> out;
  // a descriptor of its own: a dup() would share (and leave at the end) the directory offset
  int own = openat(tmp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (own < 0) return out;
  DIR *d = fdopendir(own);
  if (!d) {
    close(own);
    return out;
  }
  while (struct dirent *e = readdir(d)) {
    std::string name = e->d_name;
    struct stat st;
    bool lock_file = name.size() > 5 && name.compare(name.size() - 5, 5, "-lock") == 0;
    if (name.compare(0, sizeof kStagingPrefix - 1, kStagingPrefix) != 0 || lock_file) continue;
    if (fstatat(tmp, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) && IsLocked(tmp, name))
      out.insert(name);
  }
  closedir(d);
  return out;
}

}  // namespace

void PrepareTransactionTracked(OstreeRepo *repo, gboolean *resumed, std::string *staging, GCancellable *c) {
  Fd tmp(OpenTmp(repo));
  std::set<std::string> before = tmp.get() >= 0 ? LockedStagingDirs(tmp.get()) : std::set<std::string>();
  GErr e;
  if (!ostree_repo_prepare_transaction(repo, resumed, c, e.out())) Fail(e);
  staging->clear();
  if (tmp.get() >= 0)
    for (const auto &name : LockedStagingDirs(tmp.get()))
      if (!before.count(name)) *staging = name;
}

void AbortTransactionAndClean(OstreeRepo *repo, const std::string &staging) {
  GErr e;
  bool ok = ostree_repo_abort_transaction(repo, nullptr, e.out());
  if (!staging.empty()) {
    Fd tmp(OpenTmp(repo));
    // Another transaction may have picked the directory up in the meantime: only with its lock.
    std::string lock_name = staging + "-lock";
    Fd lock(tmp.get() < 0 ? -1 : openat(tmp.get(), lock_name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    struct flock fl = WholeFile(F_WRLCK);
    if (lock.get() >= 0 && fcntl(lock.get(), F_OFD_SETLK, &fl) == 0) {
      RemoveTree(tmp.get(), staging.c_str());
      unlinkat(tmp.get(), lock_name.c_str(), 0);
    }
  }
  if (!ok) Fail(e);
}

OwnTransaction::OwnTransaction(OstreeRepo *repo, GCancellable *c) : repo_(repo) {
  gboolean resumed = FALSE;
  PrepareTransactionTracked(repo_, &resumed, &staging_, c);
  open_ = true;
}

void OwnTransaction::Commit(GCancellable *c) {
  GErr e;
  if (!ostree_repo_commit_transaction(repo_, nullptr, c, e.out())) Fail(e);
  open_ = false;
}

OwnTransaction::~OwnTransaction() {
  if (!open_) return;
  try {
    AbortTransactionAndClean(repo_, staging_);
  } catch (const Failure &) {
    // The job's own failure is what it reports; an abort that also failed leaves libostree's
    // staging directory for its own cleanup.
  }
}

gboolean MarkCommitPartial(OstreeRepo *repo, const char *checksum, gboolean partial, GError **error) {
  errno = 0;
  if (ostree_repo_mark_commit_partial(repo, checksum, partial, error)) return TRUE;
  if (error && !*error) {
    const int e = errno ? errno : EIO;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "%s state/%s.commitpartial: %s", partial ? "Writing" : "Removing",
                checksum, g_strerror(e));
  }
  return FALSE;
}

}  // namespace oc
