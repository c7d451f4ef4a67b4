// spoolBlob() for JavaScript: options parsed, the spool (layer/spool.h) run as a job.
#include <memory>

#include "layer/blob_js.h"
#include "layer/spool.h"
#include "modules.h"
#include "util/args.h"
#include "util/async.h"
#include "util/cancellable.h"
#include "util/gobj.h"

namespace oc {
namespace {

struct SpoolJob {
  int in_fd = -1, out_fd = -1;
  int64_t size = -1;  // -1: up to EOF
  ProgressSlot progress;
  GObj<GCancellable> cancellable;
  SpoolResult result;
};

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
      [job] { job->result = SpoolBlob(job->in_fd, job->out_fd, job->size, job->progress.slot, job->cancellable.get()); },
      [job](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("digest", job->result.digest);
        r.Set("size", Napi::Number::New(env, static_cast<double>(job->result.size)));
        return r;
      },
      nullptr, JobKind::Job);
}

}  // namespace

void InitLayerSpool(Napi::Env env, Napi::Object exports) {
  exports.Set("spoolBlob", Napi::Function::New(env, SpoolBlobJs, "spoolBlob"));
}

}  // namespace oc
