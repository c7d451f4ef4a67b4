// SocketWrap: the JS face of proxy/seqpacket.h.
//
// JS surface (exports.seqpacket):
//   socketpair() → [fd, fd]            both O_CLOEXEC, owned by the caller
//   new Socket(fd)                     takes ownership of fd
//   socket.send(buf, fds?)             one datagram, fds as SCM_RIGHTS (never blocks)
//   socket.recv(maxSize) → Promise<{ data: Buffer, fds: number[] } | null>   null = peer closed
//   socket.close()                     wakes a pending recv (which resolves null), closes the fd
//   strerror(errno) → string           the C library's text, as Rust's io::Error prints it
//
// A receive blocks in poll()/recvmsg() on a job thread of the scheduler, never on the JS thread
// and never on the libuv pool: proxy replies (FinishPipe) may wait for pipe drains and layer
// imports, so a receive must never wait for a thread other work holds.
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <system_error>

#include "modules.h"
#include "proxy/seqpacket.h"
#include "scheduler.h"
#include "util/args.h"
#include "util/async.h"
#include "util/classes.h"
#include "util/errors.h"

namespace oc {

namespace {

// Largest datagram a receive takes: the kernel's SOCK_SEQPACKET limit is the socket buffer
// (a few hundred KiB); skopeo's own limit is 32 KiB.
constexpr double kMaxRecvSize = 16 * 1024 * 1024;

Napi::Error ErrnoError(Napi::Env env, const std::string &context, int err) {
  ErrorInfo info;
  info.SetErrno(context, err);
  return ToJsError(env, info);
}
}  // namespace

namespace {

class SocketWrap : public TaggedWrap<SocketWrap> {
 public:
  static constexpr const char *kClassName = "Socket";
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Socket",
                       {
                           InstanceMethod("send", &SocketWrap::Send),
                           InstanceMethod("recv", &SocketWrap::Recv),
                           InstanceMethod("close", &SocketWrap::Close),
                           InstanceAccessor("fd", &SocketWrap::GetFd, nullptr),
                       });
  }

  explicit SocketWrap(const Napi::CallbackInfo &info) : TaggedWrap<SocketWrap>(info) {
    Napi::Env env = info.Env();
    int fd = FdArg(info[0], "Socket: fd");
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) throw ErrnoError(env, "eventfd", errno);
    state_ = std::make_shared<State>();
    state_->fd.reset(fd);
    state_->cancel.reset(efd);
  }

  // Reached with a receive pending only when the environment is torn down (a pending receive
  // holds a reference): wake the thread so it lets go of the shared fds.
  ~SocketWrap() override {
    if (pending_) WakeReceiver();
  }

 private:
  // Shared with a receiving thread, so the fds outlive this object if it is collected first.
  struct State {
    Fd fd;
    Fd cancel;
  };

  struct Job {
    SocketWrap *self;
    Napi::Promise::Deferred deferred;
    RecvResult result;
  };

  Napi::Value GetFd(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), closed_ ? -1 : state_->fd.get());
  }

  Napi::Value Send(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (closed_) throw Napi::Error::New(env, "send: socket is closed");
    std::string data;
    if (info[0].IsBuffer()) {
      auto b = info[0].As<Napi::Buffer<char>>();
      data.assign(b.Data(), b.Length());
    } else if (info[0].IsString()) {
      data = info[0].As<Napi::String>().Utf8Value();
    } else {
      throw Napi::TypeError::New(env, "send: data must be a Buffer or string");
    }
    std::vector<int> fds;
    if (info[1].IsArray()) {
      auto a = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) fds.push_back(FdArg(a.Get(i), "send: fds[]"));
      if (fds.size() > kMaxDatagramFds) throw Napi::RangeError::New(env, "send: at most " + std::to_string(kMaxDatagramFds) + " fds");
    } else if (!info[1].IsUndefined()) {
      throw Napi::TypeError::New(env, "send: fds must be an array of numbers");
    }
    int err = SendDatagram(state_->fd.get(), data, fds);
    if (err) throw ErrnoError(env, "sendmsg", err);
    return env.Undefined();
  }

  Napi::Value Recv(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (closed_) throw Napi::Error::New(env, "recv: socket is closed");
    if (pending_) throw Napi::Error::New(env, "recv: a receive is already pending");
    size_t max = 32 * 1024;
    if (!info[0].IsUndefined()) max = static_cast<size_t>(IntegerArg(info[0], "recv: maxSize", 1, kMaxRecvSize));
    auto job = std::make_unique<Job>(Job{this, Napi::Promise::Deferred::New(env), {}});
    Napi::Promise promise = job->deferred.Promise();
    // A worker thread may be terminated mid-receive: see TsfnLiveness.
    auto live = std::make_shared<TsfnLiveness>();
    using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Job, &SocketWrap::CallComplete>;
    Tsfn tsfn = Tsfn::New(env, "ostree-container:seqpacket-recv", 0, 1, nullptr,
                          [live](Napi::Env, void *, std::nullptr_t *) {
                            std::lock_guard<std::mutex> lk(live->m);
                            live->alive = false;
                          });
    std::shared_ptr<State> state = state_;
    Job *raw = job.get();
    try {
      Scheduler::Get().StartJob([state, raw, tsfn, live, max]() mutable {
        std::unique_ptr<Job> job(raw);
        try {
          job->result = RecvDatagram(state->fd.get(), state->cancel.get(), max);
        } catch (...) {  // bad_alloc for the buffer
          job->result.kind = RecvResult::kError;
          job->result.err = ENOMEM;
          job->result.err_context = "recv";
        }
        std::lock_guard<std::mutex> lk(live->m);
        if (!live->alive) return Discard(std::move(job));
        napi_status s = tsfn.NonBlockingCall(job.get());
        if (s == napi_ok) job.release();  // CallComplete owns it now
        else Discard(std::move(job));
        if (s != napi_closing) tsfn.Release();  // after napi_closing the function is not ours to touch
      });
    } catch (const std::system_error &e) {
      tsfn.Release();
      throw Napi::Error::New(env, std::string("recv: cannot start a receiving thread: ") + e.what());
    }
    job.release();  // the thread owns it
    pending_ = true;
    Ref();  // keep this object (and so the socket) alive until the job completes
    return promise;
  }

  // A result nobody is left to take (the environment is gone): close the fds it carries.
  static void Discard(std::unique_ptr<Job> job) {
    for (int f : job->result.msg.fds) close(f);
  }

  // The thread-safe function's call: `env` is null when the environment was torn down with the
  // call still queued. Nothing may escape into node-addon-api's wrapper, whose rethrow during
  // teardown would end in std::terminate.
  static void CallComplete(Napi::Env env, Napi::Function, std::nullptr_t *, Job *raw) {
    std::unique_ptr<Job> job(raw);
    if (static_cast<napi_env>(env) == nullptr) return Discard(std::move(job));
    try {
      Complete(env, job.get());
    } catch (...) {  // the environment is terminating: the promise cannot settle any more
      Discard(std::move(job));
    }
  }

  // Main thread: settle the promise and apply a close requested while the receive was pending.
  static void Complete(Napi::Env env, Job *job) {
    SocketWrap *self = job->self;
    self->pending_ = false;
    if (self->closed_) self->ReleaseFds();
    self->Unref();
    RecvResult &r = job->result;
    switch (r.kind) {
      case RecvResult::kMessage: {
        Napi::Object o = Napi::Object::New(env);
        o.Set("data", Napi::Buffer<char>::Copy(env, r.msg.data.data(), r.msg.data.size()));
        Napi::Array fds = Napi::Array::New(env, r.msg.fds.size());
        for (size_t i = 0; i < r.msg.fds.size(); i++) fds.Set(static_cast<uint32_t>(i), r.msg.fds[i]);
        o.Set("fds", fds);
        job->deferred.Resolve(o);
        break;
      }
      case RecvResult::kEof:
      case RecvResult::kCancelled:
        job->deferred.Resolve(env.Null());
        break;
      case RecvResult::kError:
        job->deferred.Reject(ErrnoError(env, r.err_context, r.err).Value());
        break;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (closed_) return info.Env().Undefined();
    closed_ = true;
    if (pending_) {
      WakeReceiver();
    } else {
      ReleaseFds();
    }
    return info.Env().Undefined();
  }

  void WakeReceiver() {
    uint64_t one = 1;
    ssize_t n = write(state_->cancel.get(), &one, sizeof one);
    (void)n;  // the eventfd counter cannot overflow from a single write
  }

  void ReleaseFds() {
    state_->fd.reset();
    state_->cancel.reset();
  }

  std::shared_ptr<State> state_;
  bool pending_ = false;
  bool closed_ = false;
};

Napi::Value SocketPair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Fd a, b;
  if (!SeqpacketPair(&a, &b)) throw ErrnoError(env, "socketpair", errno);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, a.release());
  out.Set(1u, b.release());
  return out;
}

Napi::Value StrError(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), g_strerror(static_cast<int>(IntegerArg(info[0], "strerror: errno", 0, 4095))));
}

}  // namespace

void InitSeqpacket(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  o.Set("strerror", Napi::Function::New(env, StrError, "strerror"));
  o.Set("Socket", SocketWrap::Init(env));
  exports.Set("seqpacket", o);
}

}  // namespace oc
