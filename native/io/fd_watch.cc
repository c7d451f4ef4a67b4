#include "io/fd_watch.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>
#include <vector>

#include "util/failure.h"

namespace oc {
namespace {
constexpr int kTickMs = 1000;
constexpr auto kIdle = std::chrono::seconds(5);
}  // namespace

FdWatcher &FdWatcher::Get() {
  static FdWatcher *w = new FdWatcher();  // leaked on purpose: its thread may outlive static destructors
  return *w;
}

// One epoll fd for the process, made when the addon loads (InitSeqpacket), kept to the end.
FdWatcher::FdWatcher() : epoll_(epoll_create1(EPOLL_CLOEXEC)), epoll_errno_(epoll_ < 0 ? errno : 0) {}

uint64_t FdWatcher::Watch(int fd, Ready ready) {
  bool start = false;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lk(m_);
    if (epoll_ < 0) FailErrno("epoll_create1", epoll_errno_);
    id = next_id_++;
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.u64 = id;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) FailErrno("epoll_ctl", errno);
    watches_.emplace(id, Entry{fd, std::move(ready)});
    start = !running_;
    running_ = true;
  }
  if (start) {
    try {
      std::thread([this] { Run(); }).detach();
    } catch (const std::system_error &e) {
      Ready dropped;  // destroyed after the lock is released
      {
        std::lock_guard<std::mutex> lk(m_);
        running_ = false;
        auto it = watches_.find(id);
        epoll_ctl(epoll_, EPOLL_CTL_DEL, it->second.fd, nullptr);
        dropped = std::move(it->second.ready);
        watches_.erase(it);
      }
      FailErrno("Cannot start the fd watcher thread", e.code().value() ? e.code().value() : EAGAIN);
    }
  }
  return id;
}

bool FdWatcher::Cancel(uint64_t id) {
  Ready dropped;
  std::lock_guard<std::mutex> lk(m_);
  auto it = watches_.find(id);
  if (it == watches_.end()) {
    if (id == running_id_) cancel_running_ = true;
    return false;
  }
  epoll_ctl(epoll_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  dropped = std::move(it->second.ready);
  watches_.erase(it);
  return true;
  // `dropped` goes after the lock: declared before it
}

void FdWatcher::Run() {
  auto idle_since = std::chrono::steady_clock::now();
  std::vector<struct epoll_event> events(64);
  for (;;) {
    int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), kTickMs);
    if (n < 0 && errno != EINTR) n = 0;  // EBADF/EINVAL cannot happen on our own epoll fd
    for (int i = 0; i < n; i++) {
      uint64_t id = events[static_cast<size_t>(i)].data.u64;
      Ready ready;
      int fd;
      {
        std::lock_guard<std::mutex> lk(m_);
        auto it = watches_.find(id);
        if (it == watches_.end()) continue;  // cancelled meanwhile
        ready = std::move(it->second.ready);
        fd = it->second.fd;
        watches_.erase(it);
        epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);  // the fd may be watched again (or closed) next
        running_id_ = id;
        cancel_running_ = false;
      }
      bool done = ready(false);
      bool cancelled;
      {
        std::lock_guard<std::mutex> lk(m_);
        running_id_ = 0;
        cancelled = cancel_running_;
        if (!done && !cancelled) {
          // Not ready after all: watched again, under the same id (Cancel may find it again).
          struct epoll_event ev = {};
          ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
          ev.data.u64 = id;
          if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) == 0) {
            watches_.emplace(id, Entry{fd, std::move(ready)});
            continue;
          }
          cancelled = true;  // cannot be watched any more: it ends as cancelled
        }
      }
      if (!done) ready(true);
    }
    std::lock_guard<std::mutex> lk(m_);
    if (!watches_.empty()) {
      idle_since = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - idle_since >= kIdle) {
      running_ = false;
      return;
    }
  }
}

FdWatcher::Stats FdWatcher::GetStats() {
  std::lock_guard<std::mutex> lk(m_);
  return Stats{running_ ? 1u : 0u, static_cast<unsigned>(watches_.size())};
}

}  // namespace oc
