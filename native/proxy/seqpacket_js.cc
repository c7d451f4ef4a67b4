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
// A pending receive holds no thread: the fd watcher (io/fd_watch.h) waits on every socket at once
// and runs the recvmsg() when one is readable, never on the JS thread and never on the libuv
// pool. Proxy replies (FinishPipe) may wait for pipe drains and layer imports, so a receive must
// never wait for a thread other work holds, and thousands may be pending.
#include <errno.h>
#include <unistd.h>

#include <memory>
#include <mutex>

#include "io/fd_watch.h"
#include "modules.h"
#include "proxy/seqpacket.h"
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
    int fd = FdArg(info[0], "Socket: fd");
    state_ = std::make_shared<State>();
    state_->fd.reset(fd);
  }

  // Reached with a receive pending only when the environment is torn down (a pending receive
  // holds a reference): the receive is dropped; if it is already running, it finds the
  // environment gone and discards its result.
  ~SocketWrap() override {
    if (pending_ && FdWatcher::Get().Cancel(watch_)) delete job_;
  }

 private:
  // Shared with the watcher, so the fd outlives this object if it is collected first.
  struct State {
    Fd fd;
  };

  struct Job {
    SocketWrap *self;
    Napi::Promise::Deferred deferred;
    RecvResult result;
    napi_threadsafe_function tsfn = nullptr;  // released by whoever settles the job
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
    job->tsfn = tsfn;
    std::shared_ptr<State> state = state_;
    Job *raw = job.get();
    // On the watcher thread once the socket is readable. Until it runs, the job is this
    // object's (a successful Cancel() means it never will); once it runs, it is the closure's.
    auto ready = [state, raw, tsfn, live, max](bool cancelled) mutable {
      RecvResult r;
      if (cancelled) {
        r.kind = RecvResult::kCancelled;
      } else {
        try {
          r = RecvDatagram(state->fd.get(), max);
        } catch (...) {  // bad_alloc for the buffer
          r.kind = RecvResult::kError;
          r.err = ENOMEM;
          r.err_context = "recv";
        }
        if (r.kind == RecvResult::kAgain) return false;
      }
      std::unique_ptr<Job> job(raw);
      job->result = std::move(r);
      std::lock_guard<std::mutex> lk(live->m);
      if (!live->alive) {
        Discard(std::move(job));
        return true;
      }
      napi_status s = tsfn.NonBlockingCall(job.get());
      if (s == napi_ok) job.release();  // CallComplete owns it now
      else Discard(std::move(job));
      if (s != napi_closing) tsfn.Release();  // after napi_closing the function is not ours to touch
      return true;
    };
    try {
      watch_ = FdWatcher::Get().Watch(state->fd.get(), std::move(ready));
    } catch (const Failure &f) {
      tsfn.Release();
      ErrorInfo e = f.info;
      e.Prefix("recv");
      throw ToJsError(env, e);
    }
    job_ = job.release();
    pending_ = true;
    Ref();  // keep this object (and so the socket) alive until the receive completes
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
      job->self->Finished();  // its Unref() throws when the environment is terminating
      Napi::HandleScope scope(env);
      Settle(env, *job);
    } catch (...) {  // the environment is terminating: the promise cannot settle any more
      Discard(std::move(job));
    }
  }

  // Main thread, the receive over: apply a close requested meanwhile.
  void Finished() {
    pending_ = false;
    job_ = nullptr;
    if (closed_) ReleaseFds();
    Unref();
  }

  // Main thread: settles the promise once with what the receive got; building the value may
  // fail (no memory for the Buffer), and then that error rejects it.
  static void Settle(Napi::Env env, Job &job) {
    RecvResult &r = job.result;
    Napi::Value value;
    bool ok = true;
    try {
      switch (r.kind) {
        case RecvResult::kMessage: {
          Napi::Object o = Napi::Object::New(env);
          o.Set("data", Napi::Buffer<char>::Copy(env, r.msg.data.data(), r.msg.data.size()));
          Napi::Array fds = Napi::Array::New(env, r.msg.fds.size());
          for (size_t i = 0; i < r.msg.fds.size(); i++) fds.Set(static_cast<uint32_t>(i), r.msg.fds[i]);
          o.Set("fds", fds);
          value = o;
          break;
        }
        case RecvResult::kEof:
        case RecvResult::kAgain:
        case RecvResult::kCancelled:
          value = env.Null();
          break;
        case RecvResult::kError:
          ok = false;
          value = ErrnoError(env, r.err_context, r.err).Value();
          break;
      }
    } catch (...) {
      for (int f : r.msg.fds) close(f);  // nobody will see them
      ok = false;
      value = ToJsError(env, CurrentJsExceptionInfo()).Value();
    }
    if (ok) job.deferred.Resolve(value);
    else job.deferred.Reject(value);
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (closed_) return info.Env().Undefined();
    closed_ = true;
    // A receive that has not started never will: it resolves null here. One that is running
    // completes on its own (or as cancelled) and releases the fd then.
    if (pending_ && FdWatcher::Get().Cancel(watch_)) {
      std::unique_ptr<Job> job(job_);
      napi_release_threadsafe_function(job->tsfn, napi_tsfn_release);
      Finished();
      job->result.kind = RecvResult::kCancelled;
      Settle(info.Env(), *job);
      return info.Env().Undefined();
    }
    if (!pending_) ReleaseFds();
    return info.Env().Undefined();
  }

  void ReleaseFds() { state_->fd.reset(); }

  std::shared_ptr<State> state_;
  bool pending_ = false;
  bool closed_ = false;
  uint64_t watch_ = 0;   // the pending receive's watch
  Job *job_ = nullptr;   // … and its job, until the watcher runs it
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
  FdWatcher::Get();  // its epoll fd is the process's from the start, not a leak of the first receive
  Napi::Object o = Napi::Object::New(env);
  o.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  o.Set("strerror", Napi::Function::New(env, StrError, "strerror"));
  o.Set("Socket", SocketWrap::Init(env));
  exports.Set("seqpacket", o);
}

}  // namespace oc
