// What other bindings (layer import/export, merge, sysroot) use of the `Repo` binding: a JS Repo
// object ⇄ its OstreeRepo, and the per-repository job count (repo/transaction.h) around a
// PromiseWorker job.
#pragma once

#include <napi.h>
#include <ostree.h>

#include <memory>
#include <string>

#include "repo/transaction.h"
#include "util/async.h"
#include "util/gobj.h"

namespace oc {

// A new reference to the OstreeRepo behind a JS Repo object; throws a TypeError naming
// `what` if `v` is not an open Repo.
GObj<OstreeRepo> RepoFromJs(const Napi::Value &v, const char *what = "repo");

// A JS Repo for an OstreeRepo obtained elsewhere (e.g. a sysroot's repo); takes a new reference.
Napi::Object RepoToJs(Napi::Env env, OstreeRepo *repo);

// For a native import's `transaction` option: true for 'own' (the default: the import opens and
// commits its own), false for 'caller' (it writes into the transaction the caller holds open).
bool ParseOwnTransaction(const Napi::Object &o, const std::string &call);

// A RepoJobCount made on the JS thread (its refusal thrown as a JS Error) and ended by the job's
// settled step. If that never runs (the job was not queued), the count ends when the last copy
// is destroyed.
class RepoJob {
 public:
  RepoJob(Napi::Env env, OstreeRepo *repo, const char *call, RepoUse use = RepoUse::Read);
  // The job's `settled` step for PromiseWorker::Run: ends the count, then runs `then`.
  PromiseWorker::Settled Settled(PromiseWorker::Settled then = nullptr) &&;

 private:
  std::shared_ptr<RepoJobCount> count_;
};
// PromiseWorker::Run for a job counted by `job` (its settled step ends the count, then `settled`).
inline Napi::Promise RunRepoJob(Napi::Env env, const char *name, RepoJob job, PromiseWorker::Work work,
                                PromiseWorker::Done done = nullptr, PromiseWorker::Settled settled = nullptr,
                                JobKind kind = JobKind::Call) {
  return PromiseWorker::Run(env, name, std::move(work), std::move(done), std::move(job).Settled(std::move(settled)),
                            kind);
}

}  // namespace oc
