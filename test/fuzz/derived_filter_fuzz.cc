// libFuzzer harness: the derived-layer filter (store/filter.h) over arbitrary bytes read as an
// uncompressed layer (GNU sparse files expanded), both path configurations; what it writes is
// read back and checked to be what libostree may be given: a well-formed tar of `./` paths
// without `..`, hardlinks to relative targets, only the PAX records the filter keeps.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mem_source.h"
#include "store/filter.h"
#include "util/error_info.h"
#include "tar/reader.h"

namespace {

// Keeps what the filter writes (up to a bound; a sparse file may expand to a lot of zeros).
class KeepSink : public oc::ByteSink {
 public:
  void Write(const uint8_t *p, size_t n) override {
    total_ += n;
    if (out_.size() + n <= kKeep) out_.insert(out_.end(), p, p + n);
  }
  void Finish() override { finished_ = true; }
  bool complete() const { return total_ == out_.size(); }
  const std::vector<uint8_t> &out() const { return out_; }
  bool finished() const { return finished_; }

 private:
  static constexpr size_t kKeep = 8 << 20;
  std::vector<uint8_t> out_;
  uint64_t total_ = 0;
  bool finished_ = false;
};

bool HasDotDot(const std::string &p) { return ("/" + p + "/").find("/../") != std::string::npos; }

bool KeptKey(const std::string &k) {
  static const char *const kExact[] = {"uid", "gid", "uname", "gname", "mtime", "atime", "ctime", "RHT.security.selinux"};
  for (const char *x : kExact)
    if (k == x) return true;
  return k.compare(0, 13, "SCHILY.xattr.") == 0 || k.compare(0, 17, "LIBARCHIVE.xattr.") == 0;
}

void CheckOutput(const std::vector<uint8_t> &out) {
  fuzz::MemSource src(out.data(), out.size());
  oc::TarReader tar(src);  // sparse entries refused: the filter never writes one
  oc::TarEntry e;
  try {
    while (tar.Next(e)) {
      if (e.path != "." && e.path.compare(0, 2, "./") != 0) __builtin_trap();
      if (HasDotDot(e.path) || e.path.find("//") != std::string::npos) __builtin_trap();
      if (e.path.size() > oc::kMaxPathBytes + 32) __builtin_trap();  // + the etc/var remaps
      if (e.type == '1' && (e.link.empty() || e.link[0] == '/' || HasDotDot(e.link))) __builtin_trap();
      if (e.type != '0' && e.size != 0) __builtin_trap();
      for (const auto &r : e.pax)
        if (!KeptKey(r.first)) __builtin_trap();
    }
  } catch (const oc::Failure &) {
    __builtin_trap();  // the filter's output must always read back
  }
}

int SpoolDir() {
  static int dfd = [] {
    char dir[] = "/tmp/derived-filter-fuzz-XXXXXX";
    if (!mkdtemp(dir)) abort();
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }();
  return dfd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int config = 0; config < 2; config++) {
    fuzz::MemSource src(data, size);
    oc::TarReader tar(src, nullptr, oc::TarReader::Sparse::Expand);
    KeepSink sink;
    oc::FilterConfig c;
    c.allow_nonusr = config == 1;
    c.remap_var = config == 0;
    try {
      oc::FilteredCounts filtered = oc::FilterLayerTar(tar, sink, c, SpoolDir());
      if (!sink.finished()) __builtin_trap();
      if (filtered.size() > oc::kMaxFilteredKeys) __builtin_trap();
      if (sink.complete()) CheckOutput(sink.out());
    } catch (const oc::Failure &) {
      // A clear error is the expected outcome for most inputs; nothing was finished.
      if (sink.finished()) __builtin_trap();
    }
  }
  return 0;
}
