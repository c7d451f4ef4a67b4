#include "tar_reader.h"

#include <cstring>

#include "tar_writer.h"

namespace oc {
namespace {

constexpr uint64_t kMaxExtension = 1024 * 1024;  // GNU long names and PAX headers

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

// "<len> key=value\n" records.
std::vector<std::pair<std::string, std::string>> ParsePax(const std::string &data, uint64_t offset) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t p = 0;
  auto bad = [&] { Fail("Invalid PAX extended header at offset " + std::to_string(offset)); };
  while (p < data.size()) {
    size_t sp = data.find(' ', p);
    if (sp == std::string::npos || sp == p || sp - p > 20) bad();
    uint64_t len = 0;
    for (size_t i = p; i < sp; i++) {
      if (data[i] < '0' || data[i] > '9') bad();
      len = len * 10 + (data[i] - '0');
    }
    if (len <= sp - p + 1 || p + len > data.size() || data[p + len - 1] != '\n') bad();
    std::string rec = data.substr(sp + 1, p + len - 1 - (sp + 1));
    size_t eq = rec.find('=');
    if (eq == std::string::npos) bad();
    out.emplace_back(rec.substr(0, eq), rec.substr(eq + 1));
    p += len;
  }
  return out;
}

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
  for (;;) {
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
      if (size > kMaxExtension)
        Fail(std::string("Tar ") + TarTypeName(type) + " header of " + std::to_string(size) + " bytes at offset " +
             std::to_string(at) + " exceeds " + std::to_string(kMaxExtension));
      remaining_ = size;
      pad_ = (512 - size % 512) % 512;
      std::string data = ReadAll(kMaxExtension, "");
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
        if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
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
  while (ReadRaw(tmp, sizeof tmp) > 0) {
  }
}

}  // namespace oc
