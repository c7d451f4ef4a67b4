#include "io/fd_io.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/failure.h"

namespace oc {

bool WaitFd(int fd, short events, GCancellable *c, int timeout_ms, const char *context) {
  struct pollfd fds[2] = {{fd, events, 0}, {-1, POLLIN, 0}};
  GPollFD cfd;
  bool cancellable = c && g_cancellable_make_pollfd(c, &cfd);
  if (cancellable) fds[1].fd = cfd.fd;
  int r;
  do {
    r = ::poll(fds, cancellable ? 2 : 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  int err = errno;
  if (cancellable) g_cancellable_release_fd(c);
  CheckCancelled(c);
  if (r < 0) FailErrno(context, err);
  return r > 0 && fds[0].revents != 0;
}

bool WaitFd(int fd, short events, GCancellable *c, ErrorInfo &err) {
  try {
    WaitFd(fd, events, c, -1, "Waiting on fd");
    return true;
  } catch (Failure &f) {
    err = std::move(f.info);
    return false;
  }
}

FdSink::FdSink(int fd, GCancellable *cancellable) : fd_(fd), cancellable_(cancellable) {
  struct stat st;
  if (fstat(fd_, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
    int sz = S_ISFIFO(st.st_mode) ? fcntl(fd_, F_GETPIPE_SZ) : -1;
    pipe_size_ = sz > 0 ? static_cast<size_t>(sz) : PIPE_BUF;
  }
}

// Regular files: plain write(). Pipes and sockets: wait for room and write no more than fits,
// so a stalled reader cannot keep a cancelled export blocked in write().
void FdSink::Write(const uint8_t *p, size_t n) {
  hash_.Update(p, n);
  size_ += n;
  while (n > 0) {
    size_t chunk = n;
    if (pipe_size_) {
      if (!WaitFd(fd_, POLLOUT, cancellable_, 200, "Writing layer")) continue;
      int queued = 0;
      size_t room = PIPE_BUF;  // what POLLOUT promises
      if (pipe_size_ > PIPE_BUF && ioctl(fd_, FIONREAD, &queued) == 0 && static_cast<size_t>(queued) < pipe_size_)
        room = std::max<size_t>(room, pipe_size_ - static_cast<size_t>(queued));
      chunk = std::min(n, room);
    }
    ssize_t w = ::write(fd_, p, chunk);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      FailErrno("Writing layer", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  CheckCancelled(cancellable_);
}

size_t FdSource::Read(uint8_t *p, size_t n) {
  for (;;) {
    CheckCancelled(cancellable_);
    if (stop_) return 0;
    // A bounded wait: Stop() comes from another thread without waking the poll.
    if (!WaitFd(fd_, POLLIN, cancellable_, 200, "Reading layer")) continue;
    ssize_t r = ::read(fd_, p, n);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      FailErrno("Reading layer", errno);
    }
    hash_.Update(p, static_cast<size_t>(r));
    size_ += static_cast<size_t>(r);
    if (published_) __atomic_store_n(published_, size_, __ATOMIC_RELAXED);
    return static_cast<size_t>(r);
  }
}

}  // namespace oc
