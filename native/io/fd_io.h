// fd I/O that a cancellation interrupts: a pipe whose other end stalls must not outlive an
// AbortSignal. WaitFd is the one wait; ReadSome and WriteAll the one read and write loop;
// FdSink and FdSource are the pipeline ends built on them.
#pragma once

#include <gio/gio.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "io/byte_stream.h"
#include "util/sha256.h"

namespace oc {

// Waits until `fd` is ready for `events` (true) or `timeout_ms` passed (false; -1 waits without
// limit). Wakes at once when `c` is cancelled, and then throws the cancellation Failure; a
// failing poll(2) throws FailErrno(context, errno).
bool WaitFd(int fd, short events, GCancellable *c, int timeout_ms, const char *context);

// Reads up to `n` bytes once some are there; 0 at the end of input, or once `*stop` is set (it
// is looked at every 200 ms while the other end is idle). Throws FailErrno(context, …).
size_t ReadSome(int fd, uint8_t *p, size_t n, GCancellable *c, const char *context,
                const std::atomic<bool> *stop = nullptr);

// The room a write into `fd` may count on: 0 for files (write() never blocks long), else the
// pipe's or socket's buffer, so a write never blocks where a cancellation cannot reach it.
size_t PipeSizeOf(int fd);
// Writes all `n` bytes (in pieces of at most the free room when `pipe_size` is not 0); throws
// FailErrno(context, …), or the cancellation.
void WriteAll(int fd, const uint8_t *p, size_t n, size_t pipe_size, GCancellable *c, const char *context);

// Writes everything to `fd` (not owned), hashing and counting what it writes; cancellable
// while waiting on a pipe.
class FdSink : public ByteSink {
 public:
  FdSink(int fd, GCancellable *cancellable) : fd_(fd), cancellable_(cancellable), pipe_size_(PipeSizeOf(fd)) {}
  void Write(const uint8_t *p, size_t n) override;
  std::string Digest() { return hash_.Hex(); }
  uint64_t size() const { return size_; }

 private:
  int fd_;
  GCancellable *cancellable_;
  size_t pipe_size_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

// Reads `fd` (not owned), hashing and counting (blob digest). Cancellation and Stop() are
// noticed even while a pipe writer is idle.
class FdSource : public ByteSource {
 public:
  // `published` (or null): where the byte count is published for a reader on another thread
  // (progress); set here, before any read, since a read-ahead thread may start reading at once.
  FdSource(int fd, GCancellable *cancellable, uint64_t *published = nullptr)
      : fd_(fd), cancellable_(cancellable), published_(published) {}
  size_t Read(uint8_t *p, size_t n) override;
  std::string Digest() { return hash_.Hex(); }
  uint64_t size() const { return size_; }
  void Stop() { stop_ = true; }

 private:
  int fd_;
  GCancellable *cancellable_;
  Sha256 hash_;
  uint64_t *published_;
  uint64_t size_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace oc
