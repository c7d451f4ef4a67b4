// AF_UNIX SOCK_SEQPACKET datagrams with SCM_RIGHTS file descriptors: the transport of the
// skopeo image proxy (one JSON message per datagram, pipe fds attached to replies).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "util/gobj.h"

namespace oc {

// Room for more fds than any proxy reply carries (≤2), so surplus is detected, not lost.
inline constexpr size_t kMaxDatagramFds = 16;

// One received datagram. `fds` are owned by the receiver (opened with O_CLOEXEC).
struct Datagram {
  std::string data;
  std::vector<int> fds;
};

// Outcome of a receive: a datagram, end of stream (peer closed), nothing there yet (kAgain),
// cancellation (set by the caller), or an errno.
struct RecvResult {
  enum Kind { kMessage, kEof, kAgain, kCancelled, kError } kind = kError;
  Datagram msg;
  int err = 0;              // errno for kError (EMSGSIZE when the datagram or its fds were truncated)
  std::string err_context;  // "recvmsg", …
};

// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC). Returns false and sets errno on failure.
bool SeqpacketPair(Fd *a, Fd *b);

// sendmsg() of one datagram with `fds` attached as one SCM_RIGHTS message; never blocks
// (MSG_DONTWAIT) and never raises SIGPIPE. Returns 0 or an errno.
int SendDatagram(int fd, const std::string &data, const std::vector<int> &fds);

// One datagram of at most `max_size` bytes from `fd`, without waiting (io/fd_watch waits).
RecvResult RecvDatagram(int fd, size_t max_size);

}  // namespace oc
