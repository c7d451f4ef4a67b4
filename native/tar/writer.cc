#include "tar/writer.h"

#include <glib.h>

#include <cstring>
#include <string_view>

namespace oc {
namespace {

constexpr size_t kName = 0, kMode = 100, kUid = 108, kGid = 116, kSize = 124, kMtime = 136, kChksum = 148,
                 kType = 156, kLink = 157, kMagic = 257, kVersion = 263, kPrefix = 345;

// Zero-padded octal with one trailing NUL filling `len` bytes; GNU base-256 when it does not fit.
void Numeric(uint8_t *f, size_t len, uint64_t v) {
  const size_t digits = len - 1;
  if (digits < 22 && (v >> (3 * digits)) != 0) {
    memset(f, 0, len);
    f[0] = 0x80;
    for (size_t i = len - 1; i > 0 && v; i--, v >>= 8) f[i] = static_cast<uint8_t>(v & 0xff);
    return;
  }
  f[len - 1] = 0;
  for (size_t i = digits; i > 0; i--, v >>= 3) f[i - 1] = static_cast<uint8_t>('0' + (v & 7));
}

void Bytes(uint8_t *f, size_t len, const std::string &s) {
  memset(f, 0, len);
  memcpy(f, s.data(), std::min(len, s.size()));
}

void GnuBase(uint8_t b[512], char type, uint32_t mode, uint32_t uid, uint32_t gid, uint64_t size) {
  memset(b, 0, 512);
  memcpy(b + kMagic, "ustar ", 6);
  memcpy(b + kVersion, " \0", 2);
  Numeric(b + kMtime, 12, 0);
  Numeric(b + kMode, 8, mode);
  Numeric(b + kUid, 8, uid);
  Numeric(b + kGid, 8, gid);
  Numeric(b + kSize, 12, size);
  b[kType] = static_cast<uint8_t>(type);
}

// A path split as Rust's `Path::components()` splits it on Unix: a leading `/` (root) or `.`
// (current dir), then the names between separators, dropping empty ones and `.`.
enum class Comp { kRoot, kCur, kParent, kNormal };
struct Component {
  Comp kind;
  std::string_view bytes;
};

std::vector<Component> Components(std::string_view p) {
  std::vector<Component> out;
  size_t i = 0;
  if (!p.empty() && p[0] == '/') {
    out.push_back({Comp::kRoot, "/"});
  } else if (!p.empty() && p[0] == '.' && (p.size() == 1 || p[1] == '/')) {
    out.push_back({Comp::kCur, "."});
    i = 1;
  }
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view c = p.substr(i, j - i);
    if (c == "..") out.push_back({Comp::kParent, c});
    else if (!c.empty() && c != ".") out.push_back({Comp::kNormal, c});
    i = j + 1;
  }
  return out;
}

// tar-rs's `copy_path_into`: the components joined by `/`, each written with one NUL after it
// when there is room, the rest of the field untouched. Stops at the first piece that does not
// fit (or that a path may not have: root, `..` but as the last component of a truncated name)
// and returns false, leaving what was written.
bool CopyComponents(uint8_t *field, size_t len, std::string_view p, bool is_link, bool truncated) {
  size_t pos = 0;
  auto copy = [&](std::string_view bytes) {
    if (bytes.size() > len - pos) return false;
    memcpy(field + pos, bytes.data(), bytes.size());
    if (pos + bytes.size() < len) field[pos + bytes.size()] = 0;
    pos += bytes.size();
    return true;
  };
  std::vector<Component> comps = Components(p);
  bool emitted = false, needs_slash = false;
  for (size_t k = 0; k < comps.size(); k++) {
    const Component &c = comps[k];
    if (!is_link) {
      if (c.kind == Comp::kRoot) return false;
      if (c.kind == Comp::kParent && (!truncated || k + 1 < comps.size())) return false;
      if (c.kind == Comp::kCur && comps.size() != 1) continue;
    }
    if (needs_slash && !copy("/")) return false;
    if (!copy(c.bytes)) return false;
    if (c.bytes != "/") needs_slash = true;
    emitted = true;
  }
  if (!emitted) return false;
  return p.back() != '/' || copy("/");
}

// The name field as tar-rs's `prepare_header_path` leaves it; true when the path needs an `L`
// entry. A long path's field ends as its first 100 bytes (cut back to whole UTF-8 characters),
// through the same component copy.
bool SetName(uint8_t b[512], const std::string &path) {
  if (CopyComponents(b + kName, 100, path, false, false)) return false;
  if (path.size() < 100) {
    // tar-rs refuses such a path (absolute, `..`); the writer's paths never are, keep the bytes.
    Bytes(b + kName, 100, path);
    return false;
  }
  const gchar *end = nullptr;
  g_utf8_validate(path.data(), 100, &end);
  CopyComponents(b + kName, 100, std::string_view(path.data(), static_cast<size_t>(end - path.data())), false, true);
  return true;
}

// The link name field; true when the target needs a `K` entry. Targets are written as they are
// (spec §1.4.3: tar-rs would drop `.` components); one too long for the field leaves the
// components that fit, as tar-rs's failed `set_link_name` does.
bool SetLinkName(uint8_t b[512], const std::string &link) {
  if (link.size() <= 100) {
    memcpy(b + kLink, link.data(), link.size());
    if (link.size() < 100) b[kLink + link.size()] = 0;
    return false;
  }
  CopyComponents(b + kLink, 100, link, true, false);
  return true;
}

}  // namespace

uint32_t ComputeChecksum(const uint8_t b[512], bool is_signed) {
  uint32_t sum = 0;
  for (size_t i = 0; i < 512; i++) {
    uint8_t c = (i >= kChksum && i < kChksum + 8) ? ' ' : b[i];
    sum += is_signed ? static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(c))) : c;
  }
  return sum;
}

void SetChecksum(uint8_t b[512]) { Numeric(b + kChksum, 8, ComputeChecksum(b, false)); }

void TarWriter::Emit(uint8_t b[512]) {
  SetChecksum(b);
  out_.Write(b, 512);
}

void TarWriter::Pad(uint64_t size) {
  static const uint8_t zeros[512] = {0};
  size_t rem = size % 512;
  if (rem) out_.Write(zeros, 512 - rem);
}

void TarWriter::LongEntry(char type, const std::string &value) {
  uint8_t b[512];
  GnuBase(b, type, 0644, 0, 0, value.size() + 1);
  memcpy(b + kName, "././@LongLink", 13);
  Emit(b);
  out_.Write(reinterpret_cast<const uint8_t *>(value.c_str()), value.size() + 1);
  Pad(value.size() + 1);
}

void TarWriter::Header(const TarEntryHeader &h, uint8_t *written) {
  uint8_t b[512];
  if (h.base) {
    memcpy(b, h.base, 512);
    Numeric(b + kMode, 8, h.mode);
    Numeric(b + kUid, 8, h.uid);
    Numeric(b + kGid, 8, h.gid);
    Numeric(b + kSize, 12, h.size);
    b[kType] = static_cast<uint8_t>(h.type);
  } else {
    GnuBase(b, h.type, h.mode, h.uid, h.gid, h.size);
  }
  if (SetName(b, h.path)) LongEntry('L', h.path);
  if (!h.link.empty() && SetLinkName(b, h.link)) LongEntry('K', h.link);
  Emit(b);
  if (written) memcpy(written, b, 512);
}

void TarWriter::File(const std::string &path, uint32_t mode, const void *data, size_t n) {
  TarEntryHeader h;
  h.path = path;
  h.mode = mode;
  h.size = n;
  Header(h);
  Data(data, n);
  Pad(n);
}

void TarWriter::Dir(const std::string &path, uint32_t mode, uint32_t uid, uint32_t gid) {
  TarEntryHeader h;
  h.path = path;
  h.type = '5';
  h.mode = mode;
  h.uid = uid;
  h.gid = gid;
  Header(h);
}

void TarWriter::Pax(const std::vector<std::pair<std::string, std::string>> &records) {
  std::string data;
  for (const auto &[key, value] : records) {
    // "<len> key=value\n" where len counts its own digits.
    size_t base = 1 + key.size() + 1 + value.size() + 1;
    size_t len = base + 1;
    while (std::to_string(len).size() + base != len) len = std::to_string(len).size() + base;
    data += std::to_string(len) + " " + key + "=" + value + "\n";
  }
  uint8_t b[512];
  memset(b, 0, 512);
  Numeric(b + kSize, 12, data.size());
  Numeric(b + kMtime, 12, 0);
  b[kType] = 'x';
  memcpy(b + kMagic, "ustar\0", 6);
  memcpy(b + kVersion, "00", 2);
  Emit(b);
  Data(data.data(), data.size());
  Pad(data.size());
}

void TarWriter::CopyHeader(const uint8_t raw[512], const TarEntryHeader &h) {
  if (h.path.size() > 100) LongEntry('L', h.path);
  if (h.link.size() > 100) LongEntry('K', h.link);
  uint8_t b[512];
  memcpy(b, raw, 512);
  Bytes(b + kName, 100, h.path);
  Bytes(b + kLink, 100, h.link);
  Numeric(b + kSize, 12, h.size);
  if (memcmp(b + kMagic, "ustar\0", 6) == 0) memset(b + kPrefix, 0, 155);  // the name is re-derived
  Emit(b);
}

void TarWriter::Finish() {
  static const uint8_t zeros[1024] = {0};
  out_.Write(zeros, sizeof zeros);
}

}  // namespace oc
