// Layer export orchestration: one layer through tar → compressor → fd (ExportLayer), and the
// layers of one exportLayers call run side by side (ExportLayers).
#include "layer/export.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "layer/assign.h"
#include "repo/read.h"
#include "scheduler.h"
#include "tar/writer.h"
#include "util/error_info.h"
#include "util/failure.h"

namespace oc {

LayerResult ExportLayer(OstreeRepo *repo, const LayerSpec &spec, int fd, unsigned threads, GCancellable *cancellable,
                        CompressorPool *pool) {
  LayerResult r;
  LayerWriter out(fd, spec.compression, threads, spec.level, cancellable, pool, spec.zlib);
  TarWriter tar(out.tar());
  OstreeTarWriter w(repo, tar, cancellable);
  if (spec.kind != LayerSpec::Kind::Chunk) {
    r.commit = ResolveRev(repo, spec.rev);
    WithContext("Exporting commit " + r.commit, [&] { w.Commit(r.commit, spec.kind == LayerSpec::Kind::Full); });
  }
  if (spec.kind != LayerSpec::Kind::Full) WithContext("Exporting objects", [&] { w.Objects(spec.objects); });
  tar.Finish();
  static_cast<BlobDigests &>(r) = out.Finish();
  r.media_type = MediaTypeOf(spec.compression);
  return r;
}

namespace {

// How an export shares the budget (scheduler.h): layers at once, and the zstd workers of each.
// `threads` and `parallel` (0: not given) are caps; the budget caps both. A gzip layer's thread
// plus the pool's workers fill the budget; a zstd layer needs its own workers beside its thread,
// so half the budget runs zstd layers at once and the rest is shared among their workers. Two at
// least, from a budget of 2: there the layers' own threads (tar, two sha256) are the bottleneck,
// not zstd (one layer at a time used 1.4 of 2 CPUs), so two run, each with one worker.
struct Plan {
  unsigned parallel, zstd_workers;
};

Plan PlanExport(const std::vector<LayerSpec> &specs, unsigned threads, unsigned parallel) {
  unsigned budget = Scheduler::Get().Concurrency();
  bool zstd = std::any_of(specs.begin(), specs.end(), [](const LayerSpec &s) { return s.compression == Compression::Zstd; });
  Plan p;
  p.parallel = std::min(parallel ? parallel : budget, zstd ? std::max(std::min(2u, budget), budget / 2) : budget);
  p.parallel = static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(p.parallel, specs.size())));
  p.zstd_workers = std::max(1u, (budget - (p.parallel - 1)) / p.parallel);
  if (threads) p.zstd_workers = std::min(p.zstd_workers, threads);
  return p;
}

}  // namespace

void ExportLayers(OstreeRepo *repo, std::vector<LayerSpec> &specs, const ObjectAssignment *assign, unsigned threads,
                  unsigned parallel, GCancellable *cancellable, std::vector<LayerResult> &results) {
  if (assign) AssignObjects(repo, *assign, specs, cancellable);
  Plan plan = PlanExport(specs, threads, parallel);
  CompressorPool compression;
  // Output files are renamed into place only once every layer is written: a failed or cancelled
  // export leaves none of its files (and whatever was at their paths) behind.
  std::vector<std::unique_ptr<OutputFile>> files(specs.size());
  std::atomic<size_t> next{0};
  std::mutex m;
  std::unique_ptr<Failure> first;
  auto run = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= specs.size() || g_cancellable_is_cancelled(cancellable)) return;
      try {
        files[i] = std::make_unique<OutputFile>(specs[i].fd, specs[i].path);
        results[i] = ExportLayer(repo, specs[i], files[i]->fd(), plan.zstd_workers, cancellable, &compression);
        // Its objects were only needed for writing it.
        specs[i].objects.Release();
      } catch (...) {
        ErrorInfo info = CurrentExceptionInfo();
        std::lock_guard<std::mutex> lk(m);
        if (!first) first = std::make_unique<Failure>(std::move(info));
        g_cancellable_cancel(cancellable);
      }
    }
  };
  {
    // This job's own thread writes layers too; each further one holds a slot while it runs.
    JobSet more;
    for (unsigned i = 1; i < plan.parallel; i++) {
      SlotLease lease(1);
      if (!lease.count() || !more.Start(run, &lease)) break;
    }
    run();
  }
  if (first) throw Failure(first->info);
  // Cancelled between layers: the results are incomplete, so the job fails as cancelled.
  CheckCancelled(cancellable);
  for (auto &f : files) f->Keep(cancellable);
}

}  // namespace oc
