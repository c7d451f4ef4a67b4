#include "layer/spool.h"

#include <errno.h>
#include <unistd.h>

#include <vector>

#include "io/fd_io.h"
#include "util/failure.h"

namespace oc {

SpoolResult SpoolBlob(int in_fd, int out_fd, int64_t size, uint64_t *progress, GCancellable *c) {
  FdSource in(in_fd, c, progress);
  std::vector<uint8_t> buf(256 * 1024);
  for (;;) {
    size_t want = buf.size();
    if (size >= 0) {
      uint64_t left = static_cast<uint64_t>(size) - in.size();
      if (left == 0) break;
      if (left < want) want = static_cast<size_t>(left);
    }
    size_t n = in.Read(buf.data(), want);
    if (n == 0) {
      if (size >= 0) Fail("Blob ended after " + std::to_string(in.size()) + " of " + std::to_string(size) + " bytes");
      break;
    }
    WriteAll(out_fd, buf.data(), n, 0, c, "Writing spool file");
  }
  if (::lseek(out_fd, 0, SEEK_SET) < 0) FailErrno("Rewinding spool file", errno);
  return {"sha256:" + in.Digest(), in.size()};
}

}  // namespace oc
