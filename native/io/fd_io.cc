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

size_t ReadSome(int fd, uint8_t *p, size_t n, GCancellable *c, const char *context, const std::atomic<bool> *stop) {
  for (;;) {
    CheckCancelled(c);
    if (stop && *stop) return 0;
    // A bounded wait when a Stop() from another thread must be noticed without a wake-up.
    if (!WaitFd(fd, POLLIN, c, stop ? 200 : -1, context)) continue;
    ssize_t r = ::read(fd, p, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR && errno != EAGAIN) FailErrno(context, errno);
  }
}

size_t PipeSizeOf(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return 0;
  int sz = S_ISFIFO(st.st_mode) ? fcntl(fd, F_GETPIPE_SZ) : -1;
  return sz > 0 ? static_cast<size_t>(sz) : PIPE_BUF;
}

// Files: plain write(). Pipes and sockets: wait for room and write no more than fits, so a
// stalled reader cannot keep a cancelled job blocked in write().
void WriteAll(int fd, const uint8_t *p, size_t n, size_t pipe_size, GCancellable *c, const char *context) {
  while (n > 0) {
    size_t chunk = n;
    if (pipe_size) {
      if (!WaitFd(fd, POLLOUT, c, 200, context)) continue;
      int queued = 0;
      size_t room = PIPE_BUF;  // what POLLOUT promises
      if (pipe_size > PIPE_BUF && ioctl(fd, FIONREAD, &queued) == 0 && static_cast<size_t>(queued) < pipe_size)
        room = std::max<size_t>(room, pipe_size - static_cast<size_t>(queued));
      chunk = std::min(n, room);
    }
    ssize_t w = ::write(fd, p, chunk);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      FailErrno(context, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  CheckCancelled(c);
}

void FdSink::Write(const uint8_t *p, size_t n) {
  hash_.Update(p, n);
  size_ += n;
  WriteAll(fd_, p, n, pipe_size_, cancellable_, "Writing layer");
}

size_t FdSource::Read(uint8_t *p, size_t n) {
  size_t r = ReadSome(fd_, p, n, cancellable_, "Reading layer", &stop_);
  hash_.Update(p, r);
  size_ += r;
  if (published_) __atomic_store_n(published_, size_, __ATOMIC_RELAXED);
  return r;
}

}  // namespace oc
