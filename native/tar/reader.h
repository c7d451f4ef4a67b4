// Streaming tar reader for layer import and the detached-metadata rewrite: GNU `L`/`K` long
// names, PAX `x` records (path, linkpath, size; `g` ignored), ustar prefix, base-256 numbers,
// and GNU sparse files (old GNU `S`, PAX 0.0, 0.1 and 1.0) expanded or refused.
// Header checksums are verified; truncation and absurd sizes are clear errors. Untrusted input:
// every length is checked before use, extension data per entry is bounded, and the loops that
// read input check cancellation.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <gio/gio.h>

#include "io/byte_stream.h"

namespace oc {

struct TarEntry {
  std::string path, link;
  char type = '0';  // '\0' and '7' are reported as '0'
  uint32_t mode = 0, uid = 0, gid = 0;
  uint64_t size = 0;
  uint64_t mtime = 0;  // the header field (PAX mtime not applied); 0 when unreadable
  uint64_t offset = 0;                                      // of its header block in the stream
  uint8_t raw[512];                                         // the entry's own header block
  std::vector<std::pair<std::string, std::string>> pax;     // its local PAX records, in order
  // A GNU sparse file ("old GNU", "PAX 0.0", "PAX 0.1", "PAX 1.0"), or null: `path` is its real
  // name, `size` its real size, and Read() returns its data with the holes filled with zeros.
  const char *sparse = nullptr;
};

// The data of one GNU long name/link or PAX header, and all extension headers (header blocks +
// padded data) before one entry. A long path is ≤ 4 KiB and an entry's xattrs a few KiB: the
// limits are far above real use while a hostile layer's extension data, kept until its entry,
// stays small (and the per-entry total also bounds a flood of empty extension headers).
inline constexpr uint64_t kMaxExtensionHeader = 1024 * 1024;
inline constexpr uint64_t kMaxExtensionTotal = 2 * 1024 * 1024;
// GNU sparse files: a map holds at most this many data extents, and the holes a reader fills
// with zeros total at most this much per stream (a map is a few bytes; its holes are not).
inline constexpr size_t kMaxSparseExtents = 65536;
inline constexpr uint64_t kMaxSparseHoles = 1024ull * 1024 * 1024;

// The records of a PAX `x` header's data; `offset` (of its header block) is named in errors.
std::vector<std::pair<std::string, std::string>> ParsePax(const std::string &data, uint64_t offset);

// Upstream's spelling of tar entry types in messages (Rust Debug names).
const char *TarTypeName(char type);

class TarReader {
 public:
  enum class Sparse { Refuse, Expand };
  // `cancellable` (may be null) is checked by every loop that reads input. GNU sparse files fail
  // with a clear error unless `sparse` is Expand (the ostree tar format never has them).
  explicit TarReader(ByteSource &in, GCancellable *cancellable = nullptr, Sparse sparse = Sparse::Refuse)
      : in_(in), cancellable_(cancellable), expand_sparse_(sparse == Sparse::Expand), buf_(128 * 1024) {}

  // Next real entry (extension headers are consumed); false at the end-of-archive marker.
  bool Next(TarEntry &e);
  // The current entry's data.
  size_t Read(uint8_t *p, size_t n);
  // All of the current entry's data; entries larger than `limit` fail with `too_big` + size.
  std::string ReadAll(uint64_t limit, const std::string &too_big);
  // Reads the input to its end (so stream digests and compressor trailers are checked).
  void Drain();

 private:
  size_t ReadRaw(uint8_t *p, size_t n);
  void ReadExact(uint8_t *p, size_t n);
  void Skip(uint64_t n);
  size_t ReadStored(uint8_t *p, size_t n);
  void SetUpSparse(TarEntry &e, char type);
  void AddExtent(const std::string &what, uint64_t offset, uint64_t length);
  void ReadOldGnuMap(const TarEntry &e, const std::string &what);
  void ReadSparse10Map(const std::string &what);
  ByteSource &in_;
  GCancellable *cancellable_;
  bool expand_sparse_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, len_ = 0;
  uint64_t offset_ = 0;
  uint64_t remaining_ = 0, pad_ = 0;  // stored data of the current entry left, and its padding
  // The current entry's sparse map (offset, length of each data extent), where Read() is in the
  // expanded file, and the next extent; the holes filled so far in this stream.
  std::vector<std::pair<uint64_t, uint64_t>> extents_;
  bool sparse_ = false;
  uint64_t real_pos_ = 0, real_size_ = 0;
  size_t extent_ = 0;
  uint64_t holes_ = 0;
};

}  // namespace oc
