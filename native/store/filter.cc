#include "store/filter.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tar/writer.h"
#include "util/failure.h"
#include "util/gobj.h"

namespace oc {
namespace {

// Top-level API filesystems: the directory itself is kept, anything below it is filtered.
const char *const kExcludedToplevel[] = {"run", "tmp", "proc", "sys", "dev"};

// A path split the way Rust's Path::components does: a leading `/` (Root) or `.` (Cur),
// then names; empty and interior `.` components dropped.
struct Component {
  enum Kind { Root, Cur, Parent, Normal } kind;
  std::string name;
};

std::vector<Component> Components(const std::string &p) {
  std::vector<Component> out;
  size_t i = 0;
  if (!p.empty() && p[0] == '/') {
    out.push_back({Component::Root, ""});
  } else if (p == "." || p.compare(0, 2, "./") == 0) {
    out.push_back({Component::Cur, ""});
    i = 1;
  }
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    if (part == "..") out.push_back({Component::Parent, ""});
    else if (!part.empty() && part != ".") out.push_back({Component::Normal, std::move(part)});
    i = j + 1;
  }
  return out;
}

std::string StripLeadingSlashes(const std::string &p) {
  size_t n = p.find_first_not_of('/');
  return n == std::string::npos ? std::string() : p.substr(n);
}

void CheckUtf8(const std::string &s, const char *what) {
  if (g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr)) return;
  GStr valid(g_utf8_make_valid(s.data(), static_cast<gssize>(s.size())));
  Fail(std::string("Invalid non-UTF-8 ") + what + ": " + valid.get());
}

// `./usr/bin/x` → `usr/bin/x`, `.` → `` (the root): how the committed tree names a path.
std::string KeyOf(const std::string &normalized) { return normalized == "." ? std::string() : normalized.substr(2); }

// A hardlink target as the committed tree names it: the first component mapped like entry
// paths (etc → usr/etc; var remapped too, fixing upstream's QUIRK), the rest re-joined. `..`
// is refused here because libostree's importer asserts on it instead of failing.
std::string LinkTargetKey(const std::string &target, const FilterConfig &config) {
  std::vector<std::string> names;
  for (auto &c : Components(target)) {
    if (c.kind == Component::Parent) Fail("Invalid hardlink target: " + target);
    if (c.kind == Component::Normal) names.push_back(std::move(c.name));
  }
  if (names.empty()) Fail("Invalid hardlink target: " + target);
  std::string out;
  if (names[0] == "etc") out = "usr/etc";
  else if (names[0] == "var" && config.remap_var) out = "usr/share/factory/var";
  else out = names[0];
  for (size_t i = 1; i < names.size(); i++) out += "/" + names[i];
  return out;
}

// Whether `p` (leading `/` stripped) is below sysroot/ostree/repo, compared by component as
// Rust's Path::strip_prefix does; `key` gets the path's components re-joined.
bool InObjectStore(const std::string &p, std::string *key) {
  auto comps = Components(p);
  static const char *const kPrefix[] = {"sysroot", "ostree", "repo"};
  if (comps.size() < 3) return false;
  for (size_t i = 0; i < 3; i++)
    if (comps[i].kind != Component::Normal || comps[i].name != kPrefix[i]) return false;
  key->clear();
  for (const auto &c : comps) {
    if (!key->empty()) *key += "/";
    *key += c.kind == Component::Parent ? std::string("..") : c.name;
  }
  return true;
}

// PAX records handed on to libarchive: ownership, times and extended attributes. Everything
// else is dropped, in particular records that change how the data is read (GNU.sparse.*,
// SCHILY.filetype, hdrcharset); path, linkpath and size are re-encoded by the writer.
bool KeepPax(const std::string &key) {
  static const char *const kExact[] = {"uid", "gid", "uname", "gname", "mtime", "atime", "ctime",
                                       "RHT.security.selinux"};
  for (const char *k : kExact)
    if (key == k) return true;
  return key.compare(0, 13, "SCHILY.xattr.") == 0 || key.compare(0, 17, "LIBARCHIVE.xattr.") == 0;
}

// Collects small writes (tar headers) into large ones.
class BufferedSink : public ByteSink {
 public:
  explicit BufferedSink(ByteSink &next) : next_(next) { buf_.reserve(kBuf); }
  void Write(const uint8_t *p, size_t n) override {
    if (buf_.size() + n > kBuf) Flush();
    if (n >= kBuf) {
      next_.Write(p, n);
      return;
    }
    buf_.insert(buf_.end(), p, p + n);
  }
  void Finish() override {
    Flush();
    next_.Finish();
  }

 private:
  static constexpr size_t kBuf = 256 * 1024;
  void Flush() {
    if (!buf_.empty()) next_.Write(buf_.data(), buf_.size());
    buf_.clear();
  }
  ByteSink &next_;
  std::vector<uint8_t> buf_;
};

class Filter {
 public:
  Filter(TarReader &in, ByteSink &out, const FilterConfig &config, int spool_dfd)
      : in_(in), buffered_(out), w_(buffered_), config_(config), spool_dfd_(spool_dfd), buf_(64 * 1024) {}

  FilteredCounts Run() {
    TarEntry e;
    while (in_.Next(e)) {
      CheckUtf8(e.path, "path");
      Entry(e);
    }
    w_.Finish();
    buffered_.Finish();
    return std::move(filtered_);
  }

 private:
  struct Parked {
    uint8_t raw[512];
    std::vector<std::pair<std::string, std::string>> pax;
    uint64_t offset = 0, size = 0;
  };

  void Entry(TarEntry &e) {
    const std::string path = StripLeadingSlashes(e.path);
    const bool modified = e.mtime > 0;
    std::string store_key;
    if (InObjectStore(path, &store_key)) {
      // §3.4: a modified object file may be claimed by a hardlink later on.
      if (modified && e.type == '0') return Park(store_key, e);
    } else if (e.type == '1' && modified) {
      if (e.link.empty()) Fail("Invalid empty hardlink " + path);
      CheckUtf8(e.link, "hardlink target");
      // Upstream recognises only relative targets here; an absolute one means the same.
      if (InObjectStore(StripLeadingSlashes(e.link), &store_key)) return StoreLink(e, store_key);
    }
    NormalizedPath n = NormalizePath(e.path, config_);
    if (n.filtered) {
      filtered_[n.path]++;
      return;
    }
    Emit(e, n.path);
  }

  void Emit(TarEntry &e, const std::string &out) {
    const std::string key = KeyOf(out);
    switch (e.type) {
      case '5':
        Track(key, out, true);
        Header(e.raw, e.pax, '5', out, "", 0);
        return;
      case '0':
        Track(key, out, false);
        link_targets_.erase(key);
        Header(e.raw, e.pax, '0', out, "", e.size);
        CopyData(e.size);
        return;
      case '2':
        if (e.link.empty()) Fail("Invalid empty symlink " + out);
        CheckUtf8(e.link, "symlink target");
        Track(key, out, false);
        link_targets_.erase(key);
        Header(e.raw, e.pax, '2', out, e.link, 0);
        return;
      case '1': {
        if (e.link.empty()) Fail("Invalid empty hardlink " + out);
        CheckUtf8(e.link, "hardlink target");
        std::string target = LinkTargetKey(e.link, config_);
        // A link to a link names the file itself: libostree resolves deferred links in hash
        // order, so a chain would work or fail by chance.
        auto chained = link_targets_.find(target);
        if (chained != link_targets_.end()) target = chained->second;
        auto t = kinds_.find(target);
        if (t == kinds_.end() || t->second)
          Fail("Hardlink " + out + ": target " + e.link + " is not a file earlier in the layer");
        if (target == key) return;  // a file linked to itself stays what it is
        Track(key, out, false);
        link_targets_[key] = target;
        Header(e.raw, e.pax, '1', out, target, 0);
        return;
      }
      case '3':
      case '4':
      case '6':
        // Devices and fifos: libostree refuses them with its own error (`Unsupported file type`).
        Track(key, out, false);
        Header(e.raw, e.pax, e.type, out, "", 0);
        return;
      default:
        Fail(std::string("Unsupported tar entry type ") + TarTypeName(e.type) + " for " + out);
    }
  }

  // Keeps the tree libostree builds consistent: libostree fails without an error (or asserts)
  // when a name is both a directory and a non-directory, so such layers are refused here.
  void Track(const std::string &key, const std::string &out, bool is_dir) {
    if (key.empty() && !is_dir) Fail("Invalid path: " + out);
    for (size_t pos = key.find('/'); pos != std::string::npos; pos = key.find('/', pos + 1)) {
      auto [it, inserted] = kinds_.emplace(key.substr(0, pos), true);
      if (!inserted && !it->second) Fail("Invalid layer: " + out + " is below the non-directory " + it->first);
    }
    auto [it, inserted] = kinds_.emplace(key, is_dir);
    if (!inserted && it->second != is_dir)
      Fail("Invalid layer: " + out + " is both a directory and a non-directory");
  }

  void Header(const uint8_t raw[512], const std::vector<std::pair<std::string, std::string>> &pax, char type,
              const std::string &path, const std::string &link, uint64_t size) {
    std::vector<std::pair<std::string, std::string>> keep;
    for (const auto &r : pax)
      if (KeepPax(r.first)) keep.push_back(r);
    if (!keep.empty()) w_.Pax(keep);
    uint8_t b[512];
    memcpy(b, raw, 512);
    b[156] = static_cast<uint8_t>(type);
    if (memcmp(b + 257, "ustar", 5) != 0) memcpy(b + 257, "ustar  \0", 8);  // v7 header: GNU magic
    TarEntryHeader h;
    h.path = path;
    h.link = link;
    h.size = size;
    w_.CopyHeader(b, h);
  }

  void CopyData(uint64_t size) {
    for (;;) {
      size_t n = in_.Read(buf_.data(), buf_.size());
      if (n == 0) break;
      w_.Data(buf_.data(), n);
    }
    w_.Pad(size);
  }

  int Spool() {
    if (spool_) return spool_.get();
    spool_.reset(openat(spool_dfd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    for (int i = 0; !spool_ && (errno == EOPNOTSUPP || errno == EISDIR || errno == EEXIST) && i < 100; i++) {
      // No O_TMPFILE on this filesystem: a named file, unlinked at once.
      std::string name = "spool-" + std::to_string(g_random_int()) + ".tmp";
      spool_.reset(openat(spool_dfd_, name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
      if (spool_) unlinkat(spool_dfd_, name.c_str(), 0);
    }
    if (!spool_) FailErrno("Creating a temporary file for object-store files", errno);
    return spool_.get();
  }

  void Park(const std::string &key, TarEntry &e) {
    Parked p;
    memcpy(p.raw, e.raw, 512);
    p.pax = e.pax;
    p.offset = spool_end_;
    p.size = e.size;
    int fd = Spool();
    for (;;) {
      size_t n = in_.Read(buf_.data(), buf_.size());
      if (n == 0) break;
      size_t done = 0;
      while (done < n) {
        ssize_t r = pwrite(fd, buf_.data() + done, n - done, static_cast<off_t>(spool_end_));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) FailErrno("Writing a temporary file", r < 0 ? errno : ENOSPC);
        done += static_cast<size_t>(r);
        spool_end_ += static_cast<uint64_t>(r);
      }
    }
    parked_[key] = std::move(p);
  }

  // §3.4 2: a modified hardlink into the object store.
  void StoreLink(TarEntry &e, const std::string &target) {
    auto parked = parked_.find(target);
    auto relinked = relinked_.find(target);
    if (parked == parked_.end() && relinked == relinked_.end()) return;  // unknown object: dropped
    // Upstream commits these paths raw; they are normalised like any other (so etc is remapped
    // and `..` refused before libostree sees it).
    NormalizedPath n = NormalizePath(e.path, config_);
    if (n.filtered) {
      filtered_[n.path]++;
      return;
    }
    const std::string key = KeyOf(n.path);
    if (parked != parked_.end()) {
      // This entry becomes the file; later links to the same object link to it.
      const Parked &p = parked->second;
      Track(key, n.path, false);
      link_targets_.erase(key);
      Header(p.raw, p.pax, '0', n.path, "", p.size);
      uint64_t off = p.offset, left = p.size;
      while (left > 0) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf_.size()));
        ssize_t r = pread(spool_.get(), buf_.data(), want, static_cast<off_t>(off));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) FailErrno("Reading a temporary file", errno);
        if (r == 0) Fail("Reading a temporary file: short read");
        w_.Data(buf_.data(), static_cast<size_t>(r));
        off += static_cast<uint64_t>(r);
        left -= static_cast<uint64_t>(r);
      }
      w_.Pad(p.size);
      relinked_[target] = key;
      parked_.erase(parked);
      return;
    }
    const std::string real = relinked->second;
    auto t = kinds_.find(real);
    if (t == kinds_.end() || t->second)
      Fail("Hardlink " + n.path + ": target " + real + " is not a file earlier in the layer");
    if (real == key) return;  // the same path linked twice to one object
    Track(key, n.path, false);
    link_targets_[key] = real;
    Header(e.raw, e.pax, '1', n.path, real, 0);
  }

  TarReader &in_;
  BufferedSink buffered_;
  TarWriter w_;
  const FilterConfig &config_;
  int spool_dfd_;
  std::vector<uint8_t> buf_;
  FilteredCounts filtered_;
  std::unordered_map<std::string, bool> kinds_;               // committed path → is a directory
  std::unordered_map<std::string, std::string> link_targets_;  // hardlink path → the file it names
  std::unordered_map<std::string, Parked> parked_;             // object-store path → its data
  std::unordered_map<std::string, std::string> relinked_;      // object-store path → the file that took it
  Fd spool_;
  uint64_t spool_end_ = 0;
};

}  // namespace

NormalizedPath NormalizePath(const std::string &path, const FilterConfig &config) {
  const std::string shown = StripLeadingSlashes(path);
  auto comps = Components(path);
  if (comps.empty()) Fail("Invalid path: " + shown);
  std::string out;
  auto push = [&](const std::string &s) { out = out.empty() ? s : out + "/" + s; };
  if (comps[0].kind == Component::Normal) out = ".";
  bool found_first = false, excluded = false;
  for (const auto &c : comps) {
    if (c.kind == Component::Parent) Fail("Invalid path: " + shown);
    if (excluded) return {true, c.name};
    if (c.kind != Component::Normal) {
      push(".");
    } else if (found_first) {
      push(c.name);
    } else {
      found_first = true;
      if (c.name == "usr") {
        push(c.name);
      } else if (c.name == "etc") {
        push("usr/etc");
      } else if (c.name == "var") {
        push(config.remap_var ? "usr/share/factory/var" : "var");
      } else {
        bool api = false;
        for (const char *x : kExcludedToplevel) api = api || c.name == x;
        if (api) {
          excluded = true;
          push(c.name);
        } else if (config.allow_nonusr) {
          push(c.name);
        } else {
          return {true, c.name};
        }
      }
    }
  }
  return {false, out};
}

FilteredCounts FilterLayerTar(TarReader &in, ByteSink &out, const FilterConfig &config, int spool_dfd) {
  return Filter(in, out, config, spool_dfd).Run();
}

}  // namespace oc
