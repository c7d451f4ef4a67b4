// spoolBlob(): a fetched blob from a pipe into a file (the store's spool in the repo's tmp/), so a
// pull can keep more layers in flight on the network than it imports at once. Reads exactly the
// blob's size and no byte more: skopeo's proxy closes the pipe only after FinishPipe, which the
// caller sends once this job is done (see src/proxy/blob-streams.ts).
#include <unistd.h>

#include <memory>
#include <vector>

#include "io/fd_io.h"
#include "layer/blob.h"
#include "layer/blob_js.h"
#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/failure.h"
#include "util/gobj.h"

namespace oc {
namespace {

struct SpoolJob {
  int in_fd = -1, out_fd = -1;
  int64_t size = -1;  // -1: up to EOF
  ProgressSlot progress;
  GObj<GCancellable> cancellable;
  std::string digest;
  uint64_t read = 0;
};

void Spool(SpoolJob &job) {
  FdSource in(job.in_fd, job.cancellable.get(), job.progress.slot);
  std::vector<uint8_t> buf(256 * 1024);
  for (;;) {
    size_t want = buf.size();
    if (job.size >= 0) {
      uint64_t left = static_cast<uint64_t>(job.size) - in.size();
      if (left == 0) break;
      if (left < want) want = static_cast<size_t>(left);
    }
    size_t n = in.Read(buf.data(), want);
    if (n == 0) {
      if (job.size >= 0)
        Fail("Blob ended after " + std::to_string(in.size()) + " of " + std::to_string(job.size) + " bytes");
      break;
    }
    WriteAll(job.out_fd, buf.data(), n, 0, job.cancellable.get(), "Writing spool file");
  }
  if (::lseek(job.out_fd, 0, SEEK_SET) < 0) FailErrno("Rewinding spool file", errno);
  job.digest = "sha256:" + in.Digest();
  job.read = in.size();
}

// spoolBlob(inFd, outFd, { size?, progress? }, cancellable?) → { digest, size }
Napi::Value SpoolBlobJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto job = std::make_shared<SpoolJob>();
  job->in_fd = FdArg(info[0], "spoolBlob: inFd");
  job->out_fd = FdArg(info[1], "spoolBlob: outFd");
  if (!info[2].IsObject()) throw Napi::TypeError::New(env, "spoolBlob: options must be an object");
  Napi::Object o = info[2].As<Napi::Object>();
  Napi::Value size = o.Get("size");
  if (!size.IsUndefined() && !size.IsNull()) job->size = static_cast<int64_t>(SizeArg(size, "spoolBlob: size"));
  job->progress = ParseProgressSlot(o, "spoolBlob");
  job->cancellable = Cancellable::From(info[3]);
  return PromiseWorker::Run(
      env, "ostree-container:spool-blob",
      [job] { Spool(*job); },
      [job](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("digest", job->digest);
        r.Set("size", Napi::Number::New(env, static_cast<double>(job->read)));
        return r;
      },
      nullptr, JobKind::Job);
}

}  // namespace

void InitLayerSpool(Napi::Env env, Napi::Object exports) {
  exports.Set("spoolBlob", Napi::Function::New(env, SpoolBlobJs, "spoolBlob"));
}

}  // namespace oc
