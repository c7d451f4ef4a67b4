// One thread that waits on many fds at once (epoll), for the waits that would otherwise each hold
// a thread for as long as a peer stays silent: the skopeo proxy's receives. Its thread starts
// with the first watch and leaves after 5 s without one; its epoll fd is made once, when the
// addon loads. Node-free.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace oc {

class FdWatcher {
 public:
  static FdWatcher &Get();

  // Called on the watcher thread once the fd is readable (or hung up, or in error). Quick, and
  // must not throw; returns false to be called again at the next readiness (a spurious wake-up).
  // `cancelled`: Cancel() came while it ran and found nothing to read; it must finish now.
  using Ready = std::function<bool(bool cancelled)>;

  // Watches `fd` until `ready` returns true or Cancel(); returns the watch's id. Throws a
  // Failure (the errno) when the fd cannot be watched or the thread cannot start.
  uint64_t Watch(int fd, Ready ready);
  // True when the watch is gone before `ready` ran: it never will. False when `ready` ran or is
  // running (then its outcome follows from it).
  bool Cancel(uint64_t id);

  struct Stats {
    unsigned threads, watches;
  };
  Stats GetStats();

 private:
  FdWatcher();
  void Run();

  struct Entry {
    int fd;
    Ready ready;
  };
  std::mutex m_;
  int epoll_;
  int epoll_errno_;
  bool running_ = false;
  uint64_t next_id_ = 1;
  uint64_t running_id_ = 0;       // the watch whose `ready` runs now
  bool cancel_running_ = false;   // … and Cancel() came meanwhile
  std::unordered_map<uint64_t, Entry> watches_;
};

}  // namespace oc
