// SOCK_SEQPACKET datagrams with SCM_RIGHTS fds (the JS class is seqpacket_js.cc).
#include "proxy/seqpacket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace oc {

bool SeqpacketPair(Fd *a, Fd *b) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return false;
  a->reset(sv[0]);
  b->reset(sv[1]);
  return true;
}

int SendDatagram(int fd, const std::string &data, const std::vector<int> &fds) {
  struct iovec iov = {const_cast<char *>(data.data()), data.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

RecvResult RecvDatagram(int fd, size_t max_size) {
  RecvResult r;
  std::string buf(max_size, '\0');
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxDatagramFds), 0);
  for (;;) {
    struct iovec iov = {buf.data(), buf.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        r.kind = RecvResult::kAgain;
        return r;
      }
      r.err = errno;
      r.err_context = "recvmsg";
      return r;
    }
    std::vector<int> fds;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const unsigned char *p0 = CMSG_DATA(c);
      for (size_t i = 0; i < count; i++) {
        int v;
        memcpy(&v, p0 + i * sizeof(int), sizeof(int));
        fds.push_back(v);
      }
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
      for (int f : fds) close(f);
      r.err = EMSGSIZE;
      r.err_context = (msg.msg_flags & MSG_TRUNC) ? "recvmsg: datagram larger than " + std::to_string(max_size) + " bytes"
                                                  : "recvmsg: too many file descriptors";
      return r;
    }
    if (n == 0 && fds.empty()) {
      r.kind = RecvResult::kEof;
      return r;
    }
    buf.resize(static_cast<size_t>(n));
    r.kind = RecvResult::kMessage;
    r.msg.data = std::move(buf);
    r.msg.fds = std::move(fds);
    return r;
  }
}

}  // namespace oc
