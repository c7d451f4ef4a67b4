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

bool IsSparseKey(const std::string &k) { return k.compare(0, 11, "GNU.sparse.") == 0; }

bool HasSparseRecords(const std::vector<std::pair<std::string, std::string>> &pax) {
  for (const auto &r : pax)
    if (IsSparseKey(r.first)) return true;
  return false;
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
  sparse_ = false;
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
    e.sparse = nullptr;
    remaining_ = e.size;
    pad_ = (512 - e.size % 512) % 512;
    if (type == 'S' || HasSparseRecords(e.pax)) SetUpSparse(e, type);
    return true;
  }
}

// The GNU sparse formats (GNU tar manual, "Storing Sparse Files"): the entry stores only the
// data extents, and a map says where they go in a file of the real size. Old GNU keeps the map in
// the header and extension blocks after it; PAX 0.0 in repeated offset/numbytes records, 0.1 in
// one `GNU.sparse.map` record, 1.0 in decimal lines at the start of the entry's data.
void TarReader::SetUpSparse(TarEntry &e, char type) {
  const std::string at = std::to_string(e.offset);
  const std::string *major = nullptr, *minor = nullptr, *name = nullptr, *realsize = nullptr, *size = nullptr,
                    *map = nullptr, *numblocks = nullptr;
  std::vector<std::pair<const std::string *, const std::string *>> pairs;  // PAX 0.0, in order
  const std::string *pending_offset = nullptr;
  for (const auto &[k, v] : e.pax) {
    if (!IsSparseKey(k)) continue;
    const std::string key = k.substr(11);
    if (key == "major") major = &v;
    else if (key == "minor") minor = &v;
    else if (key == "name") name = &v;
    else if (key == "realsize") realsize = &v;
    else if (key == "size") size = &v;
    else if (key == "map") map = &v;
    else if (key == "numblocks") numblocks = &v;
    else if (key == "offset" && !pending_offset) pending_offset = &v;
    else if (key == "numbytes" && pending_offset) {
      pairs.emplace_back(pending_offset, &v);
      pending_offset = nullptr;
    } else {
      Fail("Invalid GNU sparse records at offset " + at + ": unexpected " + k);
    }
  }
  const char *format = type == 'S' ? "old GNU" : major || minor ? "PAX 1.0" : map ? "PAX 0.1" : "PAX 0.0";
  if (name) e.path = *name;
  // Paths are not bounded here (the callers check them): messages show the first 200 bytes.
  const std::string shown = e.path.size() > 200 ? e.path.substr(0, 200) + "…" : e.path;
  if (!expand_sparse_)
    Fail("Unsupported GNU sparse file " + shown + " (" + format + ") at offset " + at +
         ": sparse files are not part of this tar format");
  const std::string what = "Invalid GNU sparse file " + shown + " (" + format + ") at offset " + at + ": ";
  auto bad = [&](const std::string &why) { Fail(what + why); };
  auto number = [&](const std::string &v, const char *field) -> uint64_t {
    // At most 18 digits: below 2^62, so sums of two cannot wrap.
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
      bad(std::string("invalid ") + field + " '" + v.substr(0, 40) + "'");
    return std::stoull(v);
  };
  if (e.type != '0' && type != 'S') bad(std::string("sparse records on a ") + TarTypeName(e.type) + " entry");
  if (pending_offset) bad("an offset without its numbytes");
  extents_.clear();
  uint64_t real = 0;
  if (type == 'S') {
    if (major || minor || map || !pairs.empty()) bad("both an old GNU map and PAX sparse records");
    ReadOldGnuMap(e, what);
    real = Numeric(e.raw + 483, 12, "sparse real size", e.offset);
  } else if (major || minor) {
    if (!major || !minor || *major != "1" || *minor != "0")
      bad("unsupported version " + (major ? *major : std::string("?")) + "." + (minor ? *minor : std::string("?")));
    if (map || !pairs.empty()) bad("a 1.0 entry with a 0.x map");
    if (!realsize) bad("no GNU.sparse.realsize");
    real = number(*realsize, "real size");
    ReadSparse10Map(what);
  } else {
    if (!size) bad("no GNU.sparse.size");
    real = number(*size, "real size");
    if (map) {
      if (!pairs.empty()) bad("both GNU.sparse.map and GNU.sparse.offset records");
      size_t p = 0;
      std::vector<uint64_t> nums;
      while (p <= map->size()) {
        size_t comma = map->find(',', p);
        if (comma == std::string::npos) comma = map->size();
        nums.push_back(number(map->substr(p, comma - p), "map entry"));
        if (nums.size() > 2 * kMaxSparseExtents) bad("more than " + std::to_string(kMaxSparseExtents) + " extents");
        p = comma + 1;
      }
      if (nums.size() % 2) bad("an odd number of map entries");
      for (size_t i = 0; i < nums.size(); i += 2) AddExtent(what, nums[i], nums[i + 1]);
    } else {
      for (const auto &[off, len] : pairs) AddExtent(what, number(*off, "offset"), number(*len, "numbytes"));
    }
    if (numblocks && number(*numblocks, "numblocks") != extents_.size())
      bad("GNU.sparse.numblocks is " + *numblocks + " but the map has " + std::to_string(extents_.size()) + " extents");
  }
  // Extents in order, inside the file, holding exactly the stored data.
  uint64_t end = 0, data = 0;
  for (const auto &[off, len] : extents_) {
    if (off < end) bad("extents overlap or are out of order");
    if (off > real || len > real - off) bad("an extent ends beyond the real size " + std::to_string(real));
    end = off + len;
    data += len;
  }
  if (data != remaining_)
    bad("the map names " + std::to_string(data) + " bytes of data but the entry stores " + std::to_string(remaining_));
  const uint64_t holes = real - data;
  if (holes > kMaxSparseHoles - holes_)
    bad("its holes (" + std::to_string(holes) + " bytes) take the layer's sparse holes past the limit of " +
        std::to_string(kMaxSparseHoles) + " bytes");
  holes_ += holes;
  e.type = '0';
  e.size = real;
  e.sparse = format;
  sparse_ = true;
  real_pos_ = 0;
  real_size_ = real;
  extent_ = 0;
}

void TarReader::AddExtent(const std::string &what, uint64_t offset, uint64_t length) {
  if (extents_.size() >= kMaxSparseExtents) Fail(what + "more than " + std::to_string(kMaxSparseExtents) + " extents");
  extents_.emplace_back(offset, length);
}

void TarReader::ReadOldGnuMap(const TarEntry &e, const std::string &what) {
  // Four (offset, numbytes) pairs of 12-byte numbers in the header; while "isextended" is set,
  // 512-byte blocks of 21 more follow the header. An entry whose offset starts with NUL ends it.
  auto pairs = [&](const uint8_t *b, int n) {
    for (int i = 0; i < n && b[i * 24] != 0; i++)
      AddExtent(what, Numeric(b + i * 24, 12, "sparse offset", e.offset),
                Numeric(b + i * 24 + 12, 12, "sparse numbytes", e.offset));
  };
  pairs(e.raw + 386, 4);
  bool extended = e.raw[482] != 0;
  uint8_t block[512];
  while (extended) {
    CheckCancelled(cancellable_);
    ReadExact(block, 512);
    pairs(block, 21);
    extended = block[504] != 0;
  }
}

void TarReader::ReadSparse10Map(const std::string &what) {
  // Decimal numbers, one per line: the extent count, then offset and length of each; padded to
  // a block boundary. Read block by block from the stored data.
  uint8_t block[512];
  uint64_t count = 0, value = 0, got = 0;
  size_t digits = 0;
  bool have_count = false;
  for (;;) {
    CheckCancelled(cancellable_);
    if (remaining_ < 512) Fail(what + "the map is cut short");
    ReadExact(block, 512);
    remaining_ -= 512;
    for (size_t i = 0; i < 512; i++) {
      const uint8_t c = block[i];
      if (c >= '0' && c <= '9') {
        if (++digits > 18) Fail(what + "a map number is too long");
        value = value * 10 + (c - '0');
        continue;
      }
      if (c != '\n' || digits == 0) Fail(what + "the map is not decimal numbers on lines");
      if (!have_count) {
        if (value > kMaxSparseExtents) Fail(what + "more than " + std::to_string(kMaxSparseExtents) + " extents");
        count = value;
        have_count = true;
      } else if (got++ % 2 == 0) {
        AddExtent(what, value, 0);
      } else {
        extents_.back().second = value;
      }
      value = 0;
      digits = 0;
      if (got == 2 * count) return;  // the rest of this block is padding
    }
  }
}

size_t TarReader::Read(uint8_t *p, size_t n) {
  if (sparse_) {
    if (real_pos_ == real_size_ || n == 0) return 0;
    CheckCancelled(cancellable_);
    while (extent_ < extents_.size() && real_pos_ >= extents_[extent_].first + extents_[extent_].second) extent_++;
    if (extent_ < extents_.size() && real_pos_ >= extents_[extent_].first) {
      const uint64_t left = extents_[extent_].first + extents_[extent_].second - real_pos_;
      size_t r = ReadRaw(p, static_cast<size_t>(std::min<uint64_t>(n, left)));
      if (r == 0) Fail("Unexpected end of tar stream at offset " + std::to_string(offset_) + " (truncated layer?)");
      remaining_ -= r;
      real_pos_ += r;
      return r;
    }
    // A hole: zeros up to the next extent or the end of the file.
    const uint64_t next = extent_ < extents_.size() ? extents_[extent_].first : real_size_;
    size_t z = static_cast<size_t>(std::min<uint64_t>(n, next - real_pos_));
    memset(p, 0, z);
    real_pos_ += z;
    return z;
  }
  if (remaining_ == 0) return 0;
  CheckCancelled(cancellable_);
  size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
  size_t r = ReadRaw(p, want);
  if (r == 0) Fail("Unexpected end of tar stream at offset " + std::to_string(offset_) + " (truncated layer?)");
  remaining_ -= r;
  return r;
}

std::string TarReader::ReadAll(uint64_t limit, const std::string &too_big) {
  const uint64_t left = sparse_ ? real_size_ - real_pos_ : remaining_;
  if (left > limit) Fail(too_big + std::to_string(left) + " exceeds " + std::to_string(limit) + " bytes");
  std::string out(static_cast<size_t>(left), '\0');
  for (size_t done = 0; done < out.size();) done += Read(reinterpret_cast<uint8_t *>(out.data()) + done, out.size() - done);
  return out;
}

void TarReader::Drain() {
  uint8_t tmp[65536];
  do {
    CheckCancelled(cancellable_);
  } while (ReadRaw(tmp, sizeof tmp) > 0);
}

}  // namespace oc
