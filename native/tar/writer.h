// Tar writer for the ostree-ext layer format (spec §1.3): GNU headers, tar-rs field encoding
// (zero-padded octal + NUL, 7-digit checksum + NUL, mtime 0), GNU `L`/`K` long names, and
// ustar PAX `x` headers with an empty name for xattr records. Name and link name fields are
// filled the way tar-rs fills them (spec §1.10), so layers hash like upstream's: a field keeps
// the bytes past the new value's NUL, and a value too long for it leaves the path components
// that fit (names are then overwritten with their first 100 bytes, link names are not).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/byte_stream.h"

namespace oc {

struct TarEntryHeader {
  std::string path;
  char type = '0';  // '0' reg, '1' hardlink, '2' symlink, '5' dir
  uint32_t mode = 0644;
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  std::string link;
  // The header block to start from instead of a blank one (upstream writes an object's OS paths
  // with the object's own header, whose old name shows past the new one's NUL); 512 bytes.
  const uint8_t *base = nullptr;
};

class TarWriter {
 public:
  explicit TarWriter(ByteSink &out) : out_(out) {}

  // Header (with `L`/`K` extensions as needed); data, if any, follows via Data() + Pad().
  // `written`, when given, receives the 512-byte header block as emitted.
  void Header(const TarEntryHeader &h, uint8_t *written = nullptr);
  void Data(const void *p, size_t n) { out_.Write(static_cast<const uint8_t *>(p), n); }
  void Pad(uint64_t size);
  // A complete regular entry with in-memory data.
  void File(const std::string &path, uint32_t mode, const void *data, size_t n);
  void Dir(const std::string &path, uint32_t mode, uint32_t uid = 0, uint32_t gid = 0);
  // PAX `x` header carrying `records` (key, value), in order.
  void Pax(const std::vector<std::pair<std::string, std::string>> &records);
  // A header block as-is except for name/linkname/size, re-encoded (detached-metadata rewrite).
  void CopyHeader(const uint8_t raw[512], const TarEntryHeader &h);
  // End of archive: two zero blocks.
  void Finish();

 private:
  void LongEntry(char type, const std::string &value);
  void Emit(uint8_t block[512]);
  ByteSink &out_;
};

// Header field helpers shared with the reader.
void SetChecksum(uint8_t block[512]);
uint32_t ComputeChecksum(const uint8_t block[512], bool is_signed);

}  // namespace oc
