// Layer export orchestration: one layer through tar → compressor → fd (ExportLayer), and the
// layers of one exportLayers call run side by side (ExportLayers).
#include "layer_export.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "layer_assign.h"
#include "repo_read.h"
#include "tar/writer.h"
#include "util/errors.h"
#include "util/failure.h"

namespace oc {

LayerResult ExportLayer(OstreeRepo *repo, const LayerSpec &spec, unsigned threads, GCancellable *cancellable,
                        CompressorPool *pool) {
  OutputFile file(spec.fd, spec.path);
  LayerResult r;
  LayerWriter out(file.fd(), spec.compression, threads, spec.level, cancellable, pool);
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
  file.Keep();
  return r;
}

void ExportLayers(OstreeRepo *repo, std::vector<LayerSpec> &specs, const ObjectAssignment *assign, unsigned threads,
                  unsigned parallel, GCancellable *cancellable, std::vector<LayerResult> &results) {
  if (assign) AssignObjects(repo, *assign, specs, cancellable);
  CompressorPool compression(threads);
  std::atomic<size_t> next{0};
  std::mutex m;
  std::unique_ptr<Failure> first;
  auto run = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= specs.size() || g_cancellable_is_cancelled(cancellable)) return;
      try {
        results[i] = ExportLayer(repo, specs[i], threads, cancellable, &compression);
        // Its objects were only needed for writing it.
        std::vector<ChunkObject>().swap(specs[i].objects);
      } catch (...) {
        ErrorInfo info = CurrentExceptionInfo();
        std::lock_guard<std::mutex> lk(m);
        if (!first) first = std::make_unique<Failure>(std::move(info));
        g_cancellable_cancel(cancellable);
      }
    }
  };
  size_t n = std::min<size_t>(parallel, specs.size());
  std::vector<std::thread> pool;
  try {
    for (size_t i = 1; i < n; i++) pool.emplace_back(run);
  } catch (const std::system_error &) {
    // fewer threads than asked for: the started ones and this one share the queue
  }
  run();
  for (auto &t : pool) t.join();
  if (first) throw Failure(first->info);
}

}  // namespace oc
