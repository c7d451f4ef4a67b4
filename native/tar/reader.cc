#include "tar/reader.h"

#include <cstring>

#include "tar/writer.h"
#include "util/failure.h"

namespace oc {
namespace {

uint64_t Numeric(const uint8_t *f, size_t len, const char *field, uint64_t offset) {
  if (f[0] & 0x80) {
    // GNU base-256; negative values (0xff) and anything ≥ 2^62 are nonsense for us.
    if (f[0] != 0x80) Fail(std::string("Invalid ") + field + " in tar header at offset " + std::to_string(offset));
    uint64_t v = 0;
    for (size_t i = 1; i < len; i++) {
      if (v >> 54) Fail(std::string("Invalid ") + field + " in tar header at offset " + std::to_string(offset));
      v = (v << 8) | f[i];
    }
    return v;
  }
  size_t i = 0;
  while (i < len && (f[i] == ' ' || f[i] == '\0')) i++;
  uint64_t v = 0;
  for (; i < len && f[i] != ' ' && f[i] != '\0'; i++) {
    if (f[i] < '0' || f[i] > '7' || (v >> 60))
      Fail(std::string("Invalid ") + field + " in tar header at offset " + std::to_string(offset));
    v = v * 8 + (f[i] - '0');
  }
  return v;
}

std::string Field(const uint8_t *f, size_t len) {
  size_t n = 0;
  while (n < len && f[n]) n++;
  return std::string(reinterpret_cast<const char *>(f), n);
}

}  // namespace

// "<len> key=value\n" records. Every length is checked against the bytes left before it is
// used, so a length that would wrap or point outside the header is an error, never a jump.
std::vector<std::pair<std::string, std::string>> ParsePax(const std::string &data, uint64_t offset) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t p = 0;
  auto bad = [&](const std::string &why) {
    Fail("Invalid PAX extended header at offset " + std::to_string(offset) + ": record at offset " +
         std::to_string(offset + 512 + p) + ": " + why);
  };
  while (p < data.size()) {
    const size_t left = data.size() - p;
    size_t i = p;
    uint64_t len = 0;
    for (; i < data.size() && data[i] >= '0' && data[i] <= '9'; i++) {
      len = len * 10 + static_cast<uint64_t>(data[i] - '0');  // len ≤ left before each step: cannot overflow
      if (len > left) bad("length exceeds the " + std::to_string(left) + " bytes left in the header");
    }
    if (i == p || i == data.size() || data[i] != ' ') bad("no decimal length followed by a space");
    const size_t digits = i - p;
    if (len <= digits + 1) bad("length " + std::to_string(len) + " is too short");
    if (data[p + len - 1] != '\n') bad("no newline at the end of the record");
    const size_t key = i + 1, end = p + len - 1;  // record body [key, end)
    size_t eq = data.find('=', key);
    if (eq == std::string::npos || eq >= end) bad("no '=' in the record");
    out.emplace_back(data.substr(key, eq - key), data.substr(eq + 1, end - eq - 1));
    p += len;
  }
  return out;
}

namespace {

std::string StripNuls(std::string s) {
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

}  // namespace

const char *TarTypeName(char type) {
  switch (type) {
    case '0': return "Regular";
    case '1': return "Link";
    case '2': return "Symlink";
    case '3': return "Char";
    case '4': return "Block";
    case '5': return "Directory";
    case '6': return "Fifo";
    case 'x': return "XHeader";
    case 'g': return "XGlobalHeader";
    case 'L': return "GNULongName";
    case 'K': return "GNULongLink";
    case 'S': return "GNUSparse";
  }
  return "Unknown";
}

size_t TarReader::ReadRaw(uint8_t *p, size_t n) {
  if (pos_ == len_) {
    if (n >= buf_.size()) {
      size_t r = in_.Read(p, n);
      offset_ += r;
      return r;
    }
    len_ = in_.Read(buf_.data(), buf_.size());
    pos_ = 0;
    if (len_ == 0) return 0;
  }
  size_t take = std::min(n, len_ - pos_);
  memcpy(p, buf_.data() + pos_, take);
  pos_ += take;
  offset_ += take;
  return take;
}

void TarReader::ReadExact(uint8_t *p, size_t n) {
  while (n > 0) {
    size_t r = ReadRaw(p, n);
    if (r == 0) Fail("Unexpected end of tar stream at offset " + std::to_string(offset_) + " (truncated layer?)");
    p += r;
    n -= r;
  }
}

void TarReader::Skip(uint64_t n) {
  uint8_t tmp[16384];
  while (n > 0) {
    CheckCancelled(cancellable_);
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, sizeof tmp));
    ReadExact(tmp, chunk);
    n -= chunk;
  }
}

bool TarReader::Next(TarEntry &e) {
  Skip(remaining_ + pad_);
  remaining_ = pad_ = 0;
  std::string long_name, long_link;
  bool have_long_name = false, have_long_link = false;
  std::vector<std::pair<std::string, std::string>> pax;
  uint64_t ext_total = 0;  // extension header blocks and data read for this entry
  for (;;) {
    CheckCancelled(cancellable_);
    uint64_t at = offset_;
    uint8_t *b = e.raw;
    // A stream with no bytes at all is an empty archive (tar-rs reads it so: "Commit object
    // not found"); anywhere else, a header cut short is truncation.
    if (at == 0 && ReadRaw(b, 512) == 0) return false;
    if (at == 0) {
      size_t got = static_cast<size_t>(offset_);
      ReadExact(b + got, 512 - got);
    } else {
      ReadExact(b, 512);
    }
    bool zero = true;
    for (int i = 0; i < 512 && zero; i++) zero = b[i] == 0;
    if (zero) return false;
    uint64_t stored = 0;
    try {
      stored = Numeric(b + 148, 8, "checksum", at);
    } catch (const Failure &) {
      stored = ~0ull;  // not a number: reported as a checksum mismatch below
    }
    if (stored != ComputeChecksum(b, false) && stored != ComputeChecksum(b, true))
      Fail("Invalid tar header checksum at offset " + std::to_string(at));
    char type = static_cast<char>(b[156]);
    uint64_t size = Numeric(b + 124, 12, "size", at);
    if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
      if (size > kMaxExtensionHeader)
        Fail(std::string("Tar ") + TarTypeName(type) + " header of " + std::to_string(size) + " bytes at offset " +
             std::to_string(at) + " exceeds " + std::to_string(kMaxExtensionHeader));
      // size ≤ 1 MiB here, so the sum cannot overflow.
      ext_total += 512 + size + (512 - size % 512) % 512;
      if (ext_total > kMaxExtensionTotal)
        Fail("Tar extension headers before one entry exceed " + std::to_string(kMaxExtensionTotal) +
             " bytes at offset " + std::to_string(at));
      remaining_ = size;
      pad_ = (512 - size % 512) % 512;
      std::string data = ReadAll(kMaxExtensionHeader, "");
      Skip(pad_);
      pad_ = 0;
      if (type == 'L') {
        long_name = StripNuls(data);
        have_long_name = true;
      } else if (type == 'K') {
        long_link = StripNuls(data);
        have_long_link = true;
      } else if (type == 'x') {
        auto recs = ParsePax(data, at);
        pax.insert(pax.end(), recs.begin(), recs.end());
      }
      continue;
    }
    e.offset = at;
    e.type = (type == '\0' || type == '7') ? '0' : type;
    e.mode = static_cast<uint32_t>(Numeric(b + 100, 8, "mode", at) & 07777);
    uint64_t uid = Numeric(b + 108, 8, "uid", at), gid = Numeric(b + 116, 8, "gid", at);
    if (uid > UINT32_MAX || gid > UINT32_MAX) Fail("Invalid uid/gid in tar header at offset " + std::to_string(at));
    e.uid = static_cast<uint32_t>(uid);
    e.gid = static_cast<uint32_t>(gid);
    e.size = size;
    try {
      e.mtime = Numeric(b + 136, 12, "mtime", at);
    } catch (const Failure &) {
      e.mtime = 0;  // only the derived-layer filter reads it, as "modified or not" (tar-rs unwrap_or_default)
    }
    e.path = Field(b, 100);
    if (memcmp(b + 257, "ustar\0", 6) == 0 && b[345]) e.path = Field(b + 345, 155) + "/" + e.path;
    e.link = Field(b + 157, 100);
    for (const auto &[k, v] : pax) {
      if (k == "path") e.path = v;
      else if (k == "linkpath") e.link = v;
      else if (k == "size") {
        // At most 18 digits: below 2^62 like header sizes, so size + padding cannot wrap.
        if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
          Fail("Invalid PAX size at offset " + std::to_string(at));
        e.size = std::stoull(v);
      }
    }
    if (have_long_name) e.path = long_name;
    if (have_long_link) e.link = long_link;
    e.pax = std::move(pax);
    remaining_ = e.size;
    pad_ = (512 - e.size % 512) % 512;
    return true;
  }
}

size_t TarReader::Read(uint8_t *p, size_t n) {
  if (remaining_ == 0) return 0;
  CheckCancelled(cancellable_);
  size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
  size_t r = ReadRaw(p, want);
  if (r == 0) Fail("Unexpected end of tar stream at offset " + std::to_string(offset_) + " (truncated layer?)");
  remaining_ -= r;
  return r;
}

std::string TarReader::ReadAll(uint64_t limit, const std::string &too_big) {
  if (remaining_ > limit) Fail(too_big + std::to_string(remaining_) + " exceeds " + std::to_string(limit) + " bytes");
  std::string out(static_cast<size_t>(remaining_), '\0');
  ReadExact(reinterpret_cast<uint8_t *>(out.data()), out.size());
  remaining_ = 0;
  return out;
}

void TarReader::Drain() {
  uint8_t tmp[65536];
  do {
    CheckCancelled(cancellable_);
  } while (ReadRaw(tmp, sizeof tmp) > 0);
}

}  // namespace oc
