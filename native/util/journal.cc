// journalSend(): one entry of systemd's native journal protocol, already serialized by the caller
// (src/util/journal.ts), sent as a datagram to journald's socket; an entry too large for a
// datagram goes as a sealed memfd (what sd_journal_sendv does). No libsystemd needed. Never
// blocks: no journal, or a full one, is "not sent", never an error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "util/args.h"
#include "util/gobj.h"

namespace oc {
namespace {

bool SendMemfd(int sock, const sockaddr_un &addr, socklen_t len, const uint8_t *p, size_t n) {
  Fd mem(memfd_create("journal-entry", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return false;
  for (size_t off = 0; off < n;) {
    ssize_t w = ::write(mem.get(), p + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  // journald only accepts a memfd nobody can change any more.
  if (fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) return false;
  char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_name = const_cast<sockaddr_un *>(&addr);
  msg.msg_namelen = len;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int fd = mem.get();
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0;
}

// journalSend(socketPath, entry: Uint8Array) → boolean (sent)
Napi::Value JournalSendJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info[0], "journalSend: socketPath");
  if (!IsUint8Array(info[1])) throw Napi::TypeError::New(env, "journalSend: entry must be a Uint8Array");
  Napi::Uint8Array entry = info[1].As<Napi::Uint8Array>();
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) throw Napi::RangeError::New(env, "journalSend: invalid socket path");
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock) return Napi::Boolean::New(env, false);
  if (::sendto(sock.get(), entry.Data(), entry.ByteLength(), MSG_NOSIGNAL | MSG_DONTWAIT,
               reinterpret_cast<const sockaddr *>(&addr), len) >= 0)
    return Napi::Boolean::New(env, true);
  if (errno != EMSGSIZE && errno != ENOBUFS) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, SendMemfd(sock.get(), addr, len, entry.Data(), entry.ByteLength()));
}

}  // namespace

void InitJournal(Napi::Env env, Napi::Object exports) {
  exports.Set("journalSend", Napi::Function::New(env, JournalSendJs, "journalSend"));
}

}  // namespace oc
