#include "store/filter.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tar/writer.h"
#include "util/failure.h"
#include "util/gobj.h"

namespace oc {
namespace {

using PaxRecords = std::vector<std::pair<std::string, std::string>>;

// Top-level API filesystems: the directory itself is kept, anything below it is filtered.
bool IsApiFilesystem(std::string_view name) {
  return name == "run" || name == "tmp" || name == "proc" || name == "sys" || name == "dev";
}

// A path walked the way Rust's Path::components does: a leading `/` or `.` (the path "." or
// "./…") is returned, then `f` gets each name, with empty and interior `.` parts skipped (`..`
// is a name to `f`) until it returns false. One pass, no copies.
enum class Lead { None, Root, Cur };
template <typename F>
Lead ForEachComponent(std::string_view p, F &&f) {
  Lead lead = Lead::None;
  size_t i = 0;
  if (!p.empty() && p[0] == '/') {
    lead = Lead::Root;
  } else if (p == "." || p.substr(0, 2) == "./") {
    lead = Lead::Cur;
    i = 1;
  }
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view c = p.substr(i, j - i);
    if (!c.empty() && c != "." && !f(c)) break;
    i = j + 1;
  }
  return lead;
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

// The start of a path that may be long or not UTF-8, for messages about it.
std::string Shown(const std::string &p) {
  const size_t kShown = 100;
  std::string head = p.substr(0, kShown);
  GStr valid(g_utf8_make_valid(head.data(), static_cast<gssize>(head.size())));
  return std::string(valid.get()) + (p.size() > kShown ? "…" : "");
}

// `./usr/bin/x` → `usr/bin/x`, `.` → `` (the root): how the committed tree names a path.
std::string_view KeyOf(const std::string &normalized) {
  return normalized == "." ? std::string_view() : std::string_view(normalized).substr(2);
}

// A hardlink target as the committed tree names it: the first component mapped like entry
// paths (etc → usr/etc; var remapped too, fixing upstream's QUIRK), the rest re-joined. `..`
// is refused here because libostree's importer asserts on it instead of failing.
std::string LinkTargetKey(const std::string &target, const FilterConfig &config) {
  std::string out;
  out.reserve(target.size() + 24);
  bool first = true;
  ForEachComponent(target, [&](std::string_view c) {
    if (c == "..") Fail("Invalid hardlink target: " + target);
    if (!first) {
      out += '/';
      out.append(c);
    } else if (c == "etc") {
      out = "usr/etc";
    } else if (c == "var" && config.remap_var) {
      out = "usr/share/factory/var";
    } else {
      out.assign(c);
    }
    first = false;
    return true;
  });
  if (first) Fail("Invalid hardlink target: " + target);
  return out;
}

// Whether `p` (leading `/` stripped) is below sysroot/ostree/repo, compared by component as
// Rust's Path::strip_prefix does; `key` gets the path's components re-joined.
bool InObjectStore(const std::string &p, std::string *key) {
  static const char *const kPrefix[] = {"sysroot", "ostree", "repo"};
  size_t n = 0;
  bool under = true;
  key->clear();
  Lead lead = ForEachComponent(p, [&](std::string_view c) {
    if (n < 3 && c != kPrefix[n]) return under = false;
    if (n++) *key += '/';
    key->append(c);
    return true;
  });
  return under && lead == Lead::None && n >= 3;
}

// PAX records handed on to libarchive: ownership, times and extended attributes. Everything
// else is dropped, in particular records that change how the data is read (GNU.sparse.*: the
// reader expanded the file; SCHILY.filetype, hdrcharset); path, linkpath and size are
// re-encoded by the writer.
bool KeepPax(const std::string &key) {
  static const char *const kExact[] = {"uid", "gid", "uname", "gname", "mtime", "atime", "ctime",
                                       "RHT.security.selinux"};
  for (const char *k : kExact)
    if (key == k) return true;
  return key.compare(0, 13, "SCHILY.xattr.") == 0 || key.compare(0, 17, "LIBARCHIVE.xattr.") == 0;
}

PaxRecords KeptPax(const PaxRecords &pax) {
  PaxRecords keep;
  for (const auto &r : pax)
    if (KeepPax(r.first)) keep.push_back(r);
  return keep;
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

// The committed tree as the filter has emitted it, one node per name: a node holds its parent,
// its name (in one arena) and what it is; children are found through one open-addressing table
// keyed by (parent, name). Nothing is stored per path prefix. Hardlink targets not seen yet are
// nodes too (kAbsent) until an entry makes them real.
class PathTree {
 public:
  enum Kind : uint8_t { kAbsent, kDir, kFile, kLink };
  static constexpr uint32_t kRoot = 0;

  // Flags of a file node for the filter's sharing of empty files (`link` then holds the group).
  enum Flag : uint8_t { kHeld = 1, kAnchor = 2 };

  PathTree() : slots_(1024, kEmpty), seed_((uint64_t{g_random_int()} << 32) | g_random_int()) {
    nodes_.push_back({kEmpty, 0, 0, 0, 0, 0, kDir, 0});
  }

  // The child `name` of `parent`; `*added` tells whether it was added (as kAbsent).
  uint32_t Child(uint32_t parent, std::string_view name, bool *added) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = Hash(parent, name) & mask;; i = (i + 1) & mask) {
      const uint32_t s = slots_[i];
      if (s == kEmpty) {
        const uint32_t id = static_cast<uint32_t>(nodes_.size());
        nodes_.push_back(
            {parent, 0, static_cast<uint32_t>(names_.size()), 0, 0, static_cast<uint16_t>(name.size()), kAbsent, 0});
        nodes_[parent].children++;
        names_.insert(names_.end(), name.begin(), name.end());
        slots_[i] = id;
        if (nodes_.size() * 2 > slots_.size()) Grow();
        *added = true;
        return id;
      }
      if (nodes_[s].parent == parent && Name(s) == name) {
        *added = false;
        return s;
      }
    }
  }

  Kind kind(uint32_t n) const { return nodes_[n].kind; }
  void set_kind(uint32_t n, Kind k) { nodes_[n].kind = k; }
  uint32_t parent(uint32_t n) const { return nodes_[n].parent; }
  uint32_t children(uint32_t n) const { return nodes_[n].children; }
  size_t name_size(uint32_t n) const { return nodes_[n].name_len; }
  uint32_t link(uint32_t n) const { return nodes_[n].link; }
  void set_link(uint32_t n, uint32_t target) { nodes_[n].link = target; }
  uint8_t flags(uint32_t n) const { return nodes_[n].flags; }
  void set_flags(uint32_t n, uint8_t f) { nodes_[n].flags = f; }
  // Hardlinks emitted with this node as their target.
  uint32_t links_in(uint32_t n) const { return nodes_[n].links_in; }
  void set_links_in(uint32_t n, uint32_t count) { nodes_[n].links_in = count; }
  size_t size() const { return nodes_.size(); }

  // The node's path as the committed tree names it (`usr/bin/x`; `` for the root).
  std::string Path(uint32_t n) const {
    std::vector<uint32_t> chain;
    size_t len = 0;
    for (; n != kRoot; n = nodes_[n].parent) {
      chain.push_back(n);
      len += nodes_[n].name_len + 1;
    }
    std::string out;
    out.reserve(len);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      if (!out.empty()) out += '/';
      out.append(Name(*it));
    }
    return out;
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Node {
    uint32_t parent, link, name_off, children, links_in;
    uint16_t name_len;  // ≤ kMaxPathBytes
    Kind kind;
    uint8_t flags;
  };

  std::string_view Name(uint32_t n) const { return {names_.data() + nodes_[n].name_off, nodes_[n].name_len}; }

  // Keyed by a per-tree random seed, so a layer cannot be built to make names collide.
  size_t Hash(uint32_t parent, std::string_view name) const {
    uint64_t h = seed_ ^ (uint64_t{parent} * 0x9E3779B97F4A7C15ull) ^ name.size();
    size_t i = 0;
    for (; i + 8 <= name.size(); i += 8) {
      uint64_t w;
      memcpy(&w, name.data() + i, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    uint64_t w = 0;
    memcpy(&w, name.data() + i, name.size() - i);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    return static_cast<size_t>(h * 0xBF58476D1CE4E5B9ull ^ (h >> 32));
  }

  void Grow() {
    std::vector<uint32_t> slots(slots_.size() * 2, kEmpty);
    const size_t mask = slots.size() - 1;
    for (uint32_t n = 1; n < nodes_.size(); n++) {
      size_t i = Hash(nodes_[n].parent, Name(n)) & mask;
      while (slots[i] != kEmpty) i = (i + 1) & mask;
      slots[i] = n;
    }
    slots_.swap(slots);
  }

  std::vector<Node> nodes_;
  std::vector<char> names_;
  std::vector<uint32_t> slots_;
  uint64_t seed_;
};

// What the tree costs the import, for kMaxTreeCost, in bytes as measured with libostree 2022.7
// (bench/derived-limits.js): a node of ours with its table slots (+ its name), and in libostree's
// mutable tree a file (a hash slot, its name, a checksum string) or a directory (an object, two
// hash tables, checksum strings), + the name again; writing the largest directory's listing
// takes per entry; a hardlink keeps its path and its target's until the end.
constexpr uint64_t kOurNodeCost = 32;
constexpr uint64_t kOstreeFileCost = 168;
constexpr uint64_t kOstreeDirCost = 1700;
constexpr uint64_t kOstreeListingCost = 480;
constexpr uint64_t kOstreeLinkCost = 56;  // + the link's path; its target's path once per target
constexpr uint64_t kMapEntryCost = 96;    // a std::unordered_map/std::map node and its string

// Identical empty files are imported as hardlinks to one of them (below), at most this many to
// each: libostree appends each hardlink to its target's list, walking it.
constexpr uint32_t kLinksPerSharedFile = 64;

class Filter {
 public:
  Filter(TarReader &in, ByteSink &out, const FilterConfig &config, int spool_dfd)
      : in_(in), buffered_(out), w_(buffered_), config_(config), spool_dfd_(spool_dfd), buf_(64 * 1024) {}

  FilteredCounts Run() {
    TarEntry e;
    for (uint64_t entries = 1; in_.Next(e); entries++) {
      if (entries > kMaxEntries)
        Fail("Layer has more than " + std::to_string(kMaxEntries) + " entries (at offset " + std::to_string(e.offset) + ")");
      Entry(e);
    }
    ShareEmptyFiles();
    CheckLinks();
    w_.Finish();
    buffered_.Finish();
    return std::move(filtered_);
  }

 private:
  // A modified object-store file, spooled (header, kept PAX records, data) until a hardlink
  // claims it: only its offsets stay in memory.
  struct Parked {
    uint64_t meta_offset = 0, data_offset = 0, size = 0;
    uint32_t meta_size = 0;
  };

  // Empty files that libostree would store as the same object (same mode, owner, xattrs): one
  // header and its PAX records stand for all, and `anchor` is the file the next ones link to.
  static constexpr uint32_t kNoAnchor = UINT32_MAX;
  struct EmptyGroup {
    uint8_t raw[512];
    PaxRecords pax;
    uint32_t anchor = kNoAnchor, anchor_links = 0;
  };

  [[noreturn]] void LimitFailure(const TarEntry &e, const std::string &what, const std::string &limit,
                                 const std::string &path) {
    Fail("Tar entry at offset " + std::to_string(e.offset) + ": " + what + " exceeds the limit of " + limit + ": " +
         Shown(path));
  }

  // kMaxPathBytes and kMaxPathComponents for a path as written; before anything else reads it.
  void CheckWritten(const TarEntry &e, const std::string &p, const char *what, bool walked) {
    if (p.size() > kMaxPathBytes)
      LimitFailure(e, std::string(what) + " of " + std::to_string(p.size()) + " bytes",
                   std::to_string(kMaxPathBytes) + " bytes", p);
    if (!walked) return;
    const size_t parts = 1 + static_cast<size_t>(std::count(p.begin(), p.end(), '/'));
    if (parts > kMaxPathComponents)
      LimitFailure(e, std::string(what) + " with " + std::to_string(parts) + " components",
                   std::to_string(kMaxPathComponents), p);
  }

  // kMaxPathDepth for a committed key (`usr/bin/x`).
  void CheckDepth(const TarEntry &e, std::string_view key, const char *what, const std::string &written) {
    const size_t depth = key.empty() ? 0 : 1 + static_cast<size_t>(std::count(key.begin(), key.end(), '/'));
    if (depth > kMaxPathDepth)
      LimitFailure(e, std::string(what) + " " + std::to_string(depth) + " names deep",
                   std::to_string(kMaxPathDepth), written);
  }

  // Makes node `n` a `k`: the first time it becomes real (not a hardlink target not seen yet),
  // libostree's share of it is charged.
  void SetKind(uint32_t n, PathTree::Kind k, const std::string &at) {
    if (tree_.kind(n) == PathTree::kAbsent && k != PathTree::kAbsent)
      Charge((k == PathTree::kDir ? kOstreeDirCost : kOstreeFileCost) + tree_.name_size(n), at);
    tree_.set_kind(n, k);
  }

  // A new node of ours; the largest directory listing so far is charged as it grows.
  void Added(uint32_t n, const std::string &at) {
    uint64_t cost = kOurNodeCost + tree_.name_size(n);
    const uint32_t siblings = tree_.children(tree_.parent(n));
    if (siblings > largest_dir_) {
      cost += (siblings - largest_dir_) * kOstreeListingCost;
      largest_dir_ = siblings;
    }
    Charge(cost, at);
  }

  void Charge(uint64_t cost, const std::string &at) {
    cost_ += cost;
    if (cost_ > kMaxTreeCost)
      Fail("Layer too large to import: its tree would take more than " + std::to_string(kMaxTreeCost >> 20) +
           " MiB of memory (" + std::to_string(tree_.size()) + " paths so far, at " + Shown(at) + ")");
  }

  void Filtered(const std::string &key) {
    auto [it, added] = filtered_.emplace(key, 0);
    if (added) {
      if (filtered_.size() > kMaxFilteredKeys)
        Fail("Layer filters entries under more than " + std::to_string(kMaxFilteredKeys) + " distinct names (at " +
             Shown(key) + ")");
      Charge(kMapEntryCost + key.size(), key);
    }
    it->second++;
  }

  void Entry(TarEntry &e) {
    CheckWritten(e, e.path, "path", true);
    CheckUtf8(e.path, "path");
    if (e.type == '1') CheckWritten(e, e.link, "hardlink target", true);
    if (e.type == '2') CheckWritten(e, e.link, "symlink target", false);
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
    if (n.filtered) return Filtered(n.path);
    CheckDepth(e, KeyOf(n.path), "path", e.path);
    Emit(e, n.path);
  }

  void Emit(TarEntry &e, const std::string &out) {
    const std::string_view key = KeyOf(out);
    switch (e.type) {
      case '5': {
        uint32_t n = Walk(key, out);
        if (tree_.kind(n) == PathTree::kFile || tree_.kind(n) == PathTree::kLink) BothKinds(out);
        SetKind(n, PathTree::kDir, out);
        Header(e.raw, e.pax, '5', out, "", 0);
        return;
      }
      case '0':
        if (e.size == 0 && config_.share_empty_files) return EmptyFile(e, key, out);
        NonDirectory(key, out);
        Header(e.raw, e.pax, '0', out, "", e.size);
        CopyData(e.size);
        return;
      case '2':
        if (e.link.empty()) Fail("Invalid empty symlink " + out);
        CheckUtf8(e.link, "symlink target");
        NonDirectory(key, out);
        Header(e.raw, e.pax, '2', out, e.link, 0);
        return;
      case '1': {
        if (e.link.empty()) Fail("Invalid empty hardlink " + out);
        CheckUtf8(e.link, "hardlink target");
        const std::string target = LinkTargetKey(e.link, config_);
        CheckDepth(e, target, "hardlink target", e.link);
        return Link(e.raw, e.pax, out, key, Node(target, out, false), e.link);
      }
      case '3':
      case '4':
      case '6':
        // Devices and fifos: libostree refuses them with its own error (`Unsupported file type`).
        NonDirectory(key, out);
        Header(e.raw, e.pax, e.type, out, "", 0);
        return;
      default:
        Fail(std::string("Unsupported tar entry type ") + TarTypeName(e.type) + " for " + out);
    }
  }

  [[noreturn]] void BothKinds(const std::string &out) {
    Fail("Invalid layer: " + out + " is both a directory and a non-directory");
  }

  // The node of a committed key, every name on the way added as needed; `out` is for messages.
  // For an entry's own path (`entry`), the names on the way become directories as libostree makes
  // them (they exist or are created with the entry: `*created` tells), and one that is not a
  // directory fails: libostree fails without an error (or asserts) when a name is both. A hardlink
  // target's are left as they are (it may come later).
  uint32_t Node(std::string_view key, const std::string &out, bool entry, bool *created = nullptr) {
    uint32_t n = PathTree::kRoot;
    size_t i = 0;
    while (i < key.size()) {
      if (entry && n != PathTree::kRoot) {
        PathTree::Kind k = tree_.kind(n);
        if (k == PathTree::kFile || k == PathTree::kLink)
          Fail("Invalid layer: " + out + " is below the non-directory " + tree_.Path(n));
        if (created && k == PathTree::kAbsent) *created = true;
        SetKind(n, PathTree::kDir, out);
      }
      size_t j = key.find('/', i);
      if (j == std::string_view::npos) j = key.size();
      bool added = false;
      n = tree_.Child(n, key.substr(i, j - i), &added);
      if (added) Added(n, out);
      i = j + 1;
    }
    return n;
  }
  uint32_t Walk(std::string_view key, const std::string &out, bool *created = nullptr) {
    return Node(key, out, true, created);
  }

  // A file, symlink or device at `key`. Where a hardlink was, the hardlink stays: libostree
  // resolves hardlinks after the last entry, over whatever came later at that path.
  void NonDirectory(std::string_view key, const std::string &out) {
    if (key.empty()) Fail("Invalid path: " + out);
    uint32_t n = Walk(key, out);
    if (tree_.kind(n) == PathTree::kDir) BothKinds(out);
    if (tree_.kind(n) == PathTree::kLink) return;
    Replaced(n);
    SetKind(n, PathTree::kFile, out);
  }

  // A later entry names file `n`: held, it is not imported; standing for its group, it no more.
  void Replaced(uint32_t n) {
    const uint8_t f = tree_.flags(n);
    if ((f & PathTree::kAnchor) && groups_[tree_.link(n)].anchor == n) groups_[tree_.link(n)].anchor = kNoAnchor;
    tree_.set_flags(n, 0);
  }

  // An empty regular file. libostree writes every file it imports through a temporary file, even
  // when the object exists (the bulk of a layer of many empty files), but resolves a hardlink to
  // a file it has by name. So the first empty file of each kind is imported as it is and the
  // next ones are held, to be imported after the last entry as hardlinks to it (the same object
  // either way; hardlinks ignore their own metadata). Only where nothing can differ: the file's
  // directory exists already (it is not created with it), no hardlink names it, and no SELinux
  // policy labels files by path (config). A later entry at a held path replaces it.
  void EmptyFile(const TarEntry &e, std::string_view key, const std::string &out) {
    if (key.empty()) Fail("Invalid path: " + out);
    bool created = false;
    const uint32_t n = Walk(key, out, &created);
    if (tree_.kind(n) == PathTree::kDir) BothKinds(out);
    if (tree_.kind(n) == PathTree::kLink) return;  // the hardlink stays (libostree imports it last)
    Replaced(n);
    SetKind(n, PathTree::kFile, out);
    const uint32_t g = Group(e.raw, e.pax, out);
    if (created || tree_.links_in(n) > 0 || groups_[g].anchor == kNoAnchor) {
      Header(e.raw, e.pax, '0', out, "", 0);
      if (created || tree_.links_in(n) > 0) return;
      groups_[g].anchor = n;
      tree_.set_flags(n, PathTree::kAnchor);
    } else {
      held_.push_back(n);
      tree_.set_flags(n, PathTree::kHeld);
      Charge(key.size() + kOstreeLinkCost, out);
    }
    tree_.set_link(n, g);
  }

  // The group of empty files an entry belongs to: what libostree's object of it depends on
  // (mode, owner and the PAX records passed on, times aside).
  uint32_t Group(const uint8_t raw[512], const PaxRecords &pax, const std::string &out) {
    PaxRecords keep;
    std::string sig(reinterpret_cast<const char *>(raw) + 100, 24);  // mode, uid, gid fields
    for (const auto &r : KeptPax(pax)) {
      if (r.first == "mtime" || r.first == "atime" || r.first == "ctime") continue;
      sig += r.first + '\0' + r.second + '\0';
      keep.push_back(r);
    }
    auto [it, added] = group_of_.emplace(std::move(sig), static_cast<uint32_t>(groups_.size()));
    if (added) {
      Charge(kMapEntryCost + 2 * it->first.size() + 512, out);
      groups_.emplace_back();
      memcpy(groups_.back().raw, raw, 512);
      groups_.back().pax = std::move(keep);
    }
    return it->second;
  }

  // A held empty file imported now, as it is (a hardlink is about to name it).
  void Materialize(uint32_t n) {
    const EmptyGroup &g = groups_[tree_.link(n)];
    Header(g.raw, g.pax, '0', "./" + tree_.Path(n), "", 0);
    tree_.set_flags(n, 0);
  }

  // After the last entry: the held empty files, as hardlinks to a file of their group (a new one
  // every kLinksPerSharedFile, or when the group's file was replaced).
  void ShareEmptyFiles() {
    std::string anchor_path;
    uint32_t anchor_path_of = kNoAnchor;
    for (const uint32_t n : held_) {
      if (!(tree_.flags(n) & PathTree::kHeld)) continue;  // replaced, or imported already
      EmptyGroup &g = groups_[tree_.link(n)];
      tree_.set_flags(n, 0);
      const std::string out = "./" + tree_.Path(n);
      if (g.anchor == kNoAnchor || g.anchor_links >= kLinksPerSharedFile) {
        Header(g.raw, g.pax, '0', out, "", 0);
        g.anchor = n;
        g.anchor_links = 0;
        continue;
      }
      if (anchor_path_of != g.anchor) {
        anchor_path = tree_.Path(g.anchor);
        anchor_path_of = g.anchor;
      }
      Header(g.raw, {}, '1', out, anchor_path, 0);
      g.anchor_links++;
    }
  }

  // A hardlink at `key` naming node `target`. libostree imports hardlinks after the last entry,
  // each as whatever its target path holds then, so a target may come later in the layer (as
  // upstream allows). What libostree would decide by hash order is settled here: a link to a
  // hardlink names that hardlink's file, a path linked twice must name the same file, and a
  // target that ends up a hardlink itself (or missing, or a directory) fails in CheckLinks.
  void Link(const uint8_t raw[512], const PaxRecords &pax, const std::string &out, std::string_view key,
            uint32_t target, const std::string &written) {
    if (tree_.kind(target) == PathTree::kDir)
      Fail("Hardlink " + out + ": target " + written + " is a directory");
    if (tree_.kind(target) == PathTree::kLink) target = tree_.link(target);
    if (tree_.flags(target) & PathTree::kHeld) Materialize(target);
    if (key.empty()) Fail("Invalid path: " + out);
    uint32_t n = Walk(key, out);
    switch (tree_.kind(n)) {
      case PathTree::kDir:
        BothKinds(out);
      case PathTree::kLink:
        if (tree_.link(n) != target)
          Fail("Hardlink " + out + ": given again with another target (" + written + ")");
        return;
      case PathTree::kFile:
        if (n == target) return;  // a file linked to itself stays what it is
        break;
      case PathTree::kAbsent:
        if (n == target) Fail("Hardlink " + out + ": target " + written + " is not a file in the layer");
        break;
    }
    const std::string target_path = tree_.Path(target);
    // libostree keeps each link's path until the end, and each target's, on a list per target
    // that it walks to append to: the links to one file cost it the square of their number.
    const uint32_t links = tree_.links_in(target);
    link_work_ += links;
    if (link_work_ > kMaxHardlinkWork)
      Fail("Layer has too many hardlinks to the same files (libostree's importer takes the square of their number "
           "in time): at " + out + ", hardlink " + std::to_string(links + 1) + " to " + target_path);
    tree_.set_links_in(target, links + 1);
    Charge(key.size() + kOstreeLinkCost + (links == 0 ? target_path.size() + kOstreeLinkCost : 0), out);
    Replaced(n);
    SetKind(n, PathTree::kLink, out);
    tree_.set_link(n, target);
    Header(raw, pax, '1', out, target_path, 0);
  }

  // After the last entry: every hardlink's target is a file (libostree would fail without
  // naming the link, or, for a chain, succeed or fail by hash order).
  void CheckLinks() {
    for (uint32_t n = 1; n < tree_.size(); n++) {
      if (tree_.kind(n) != PathTree::kLink) continue;
      const uint32_t t = tree_.link(n);
      const char *why = nullptr;
      switch (tree_.kind(t)) {
        case PathTree::kFile: continue;
        case PathTree::kAbsent: why = "is not a file in the layer"; break;
        case PathTree::kDir: why = "is a directory"; break;
        case PathTree::kLink: why = "is a hardlink too (a chain libostree would resolve by chance)"; break;
      }
      Fail("Hardlink ./" + tree_.Path(n) + ": target " + tree_.Path(t) + " " + why);
    }
  }

  void Header(const uint8_t raw[512], const PaxRecords &pax, char type, const std::string &path,
              const std::string &link, uint64_t size) {
    PaxRecords keep = KeptPax(pax);
    if (!keep.empty()) w_.Pax(keep);
    uint8_t b[512];
    memcpy(b, raw, 512);
    // An old GNU sparse header (expanded by the reader) keeps its map where a plain GNU header
    // has nothing libarchive reads: cleared.
    if (b[156] == 'S') memset(b + 345, 0, 512 - 345);
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

  void SpoolWrite(const void *p, size_t n) {
    const int fd = Spool();
    const uint8_t *b = static_cast<const uint8_t *>(p);
    while (n > 0) {
      ssize_t r = pwrite(fd, b, n, static_cast<off_t>(spool_end_));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) FailErrno("Writing a temporary file", r < 0 ? errno : ENOSPC);
      b += r;
      n -= static_cast<size_t>(r);
      spool_end_ += static_cast<uint64_t>(r);
    }
  }

  void SpoolRead(void *p, size_t n, uint64_t off) {
    uint8_t *b = static_cast<uint8_t *>(p);
    while (n > 0) {
      ssize_t r = pread(spool_.get(), b, n, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) FailErrno("Reading a temporary file", errno);
      if (r == 0) Fail("Reading a temporary file: short read");
      b += r;
      n -= static_cast<size_t>(r);
      off += static_cast<uint64_t>(r);
    }
  }

  // The header block and the PAX records libarchive gets, as [512][u32 key len][key][u32 value
  // len][value]…: a parked entry's metadata lives on disk, not in memory.
  void SpoolMeta(const uint8_t raw[512], const PaxRecords &pax) {
    std::string meta(reinterpret_cast<const char *>(raw), 512);
    for (const auto &[k, v] : KeptPax(pax)) {
      for (const std::string *s : {&k, &v}) {
        const uint32_t len = static_cast<uint32_t>(s->size());
        meta.append(reinterpret_cast<const char *>(&len), 4);
        meta += *s;
      }
    }
    SpoolWrite(meta.data(), meta.size());
  }

  void Park(const std::string &key, TarEntry &e) {
    Parked p;
    p.meta_offset = spool_end_;
    SpoolMeta(e.raw, e.pax);
    p.meta_size = static_cast<uint32_t>(spool_end_ - p.meta_offset);  // ≤ 512 + the reader's extension limit
    parked_meta_ += p.meta_size;
    if (parked_meta_ > kMaxParkedMetadata)
      Fail("Layer has more than " + std::to_string(kMaxParkedMetadata >> 20) +
           " MiB of headers and PAX records on object-store files waiting for a hardlink (at " + Shown(e.path) + ")");
    p.data_offset = spool_end_;
    p.size = e.size;
    for (;;) {
      size_t n = in_.Read(buf_.data(), buf_.size());
      if (n == 0) break;
      SpoolWrite(buf_.data(), n);
    }
    auto [it, added] = parked_.insert_or_assign(key, p);
    if (added) Charge(kMapEntryCost + key.size(), key);
  }

  // §3.4 2: a modified hardlink into the object store.
  void StoreLink(TarEntry &e, const std::string &target) {
    auto parked = parked_.find(target);
    auto relinked = relinked_.find(target);
    if (parked == parked_.end() && relinked == relinked_.end()) return;  // unknown object: dropped
    // Upstream commits these paths raw; they are normalised like any other (so etc is remapped
    // and `..` refused before libostree sees it).
    NormalizedPath n = NormalizePath(e.path, config_);
    if (n.filtered) return Filtered(n.path);
    const std::string_view key = KeyOf(n.path);
    CheckDepth(e, key, "path", e.path);
    if (parked == parked_.end()) return Link(e.raw, e.pax, n.path, key, relinked->second, target);
    // This entry becomes the file; later links to the same object link to it.
    const Parked p = parked->second;
    std::string meta(p.meta_size, '\0');
    SpoolRead(meta.data(), meta.size(), p.meta_offset);
    PaxRecords pax;
    for (size_t i = 512; i < meta.size();) {
      std::string kv[2];
      for (auto &s : kv) {
        uint32_t len;
        memcpy(&len, meta.data() + i, 4);
        s = meta.substr(i + 4, len);
        i += 4 + len;
      }
      pax.emplace_back(std::move(kv[0]), std::move(kv[1]));
    }
    NonDirectory(key, n.path);
    Header(reinterpret_cast<const uint8_t *>(meta.data()), pax, '0', n.path, "", p.size);
    for (uint64_t off = p.data_offset, left = p.size; left > 0;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf_.size()));
      SpoolRead(buf_.data(), want, off);
      w_.Data(buf_.data(), want);
      off += want;
      left -= want;
    }
    w_.Pad(p.size);
    relinked_[target] = Node(key, n.path, false);
    parked_.erase(parked);
  }

  TarReader &in_;
  BufferedSink buffered_;
  TarWriter w_;
  const FilterConfig &config_;
  int spool_dfd_;
  std::vector<uint8_t> buf_;
  FilteredCounts filtered_;
  PathTree tree_;
  uint64_t cost_ = 0;                                   // for kMaxTreeCost
  uint32_t largest_dir_ = 0;                            // entries of the largest directory
  uint64_t link_work_ = 0;                              // for kMaxHardlinkWork
  std::vector<EmptyGroup> groups_;                      // kinds of empty files
  std::unordered_map<std::string, uint32_t> group_of_;  // their signatures → index
  std::vector<uint32_t> held_;                          // held empty files, in layer order
  std::unordered_map<std::string, Parked> parked_;      // object-store path → its spooled entry
  std::unordered_map<std::string, uint32_t> relinked_;  // object-store path → the file that took it
  Fd spool_;
  uint64_t spool_end_ = 0;
  uint64_t parked_meta_ = 0;  // for kMaxParkedMetadata
};

}  // namespace

NormalizedPath NormalizePath(const std::string &path, const FilterConfig &config) {
  NormalizedPath r;
  std::string &out = r.path;
  out.reserve(path.size() + 24);
  bool any = false, found_first = false, excluded = false;
  Lead lead = ForEachComponent(path, [&](std::string_view c) {
    if (c == "..") Fail("Invalid path: " + StripLeadingSlashes(path));
    any = true;
    if (excluded) {
      r.filtered = true;
      out.assign(c);
      return false;
    }
    if (out.empty()) out = ".";
    if (found_first) {
      out += '/';
      out.append(c);
      return true;
    }
    // The first name decides.
    found_first = true;
    if (c == "usr") {
      out += "/usr";
    } else if (c == "etc") {
      out += "/usr/etc";
    } else if (c == "var") {
      out += config.remap_var ? "/usr/share/factory/var" : "/var";
    } else if (IsApiFilesystem(c) || config.allow_nonusr) {
      excluded = IsApiFilesystem(c);
      out += '/';
      out.append(c);
    } else {
      r.filtered = true;
      out.assign(c);
      return false;
    }
    return true;
  });
  if (r.filtered) return r;
  if (!any && lead == Lead::None) Fail("Invalid path: " + StripLeadingSlashes(path));
  if (out.empty()) out = ".";
  return r;
}

FilteredCounts FilterLayerTar(TarReader &in, ByteSink &out, const FilterConfig &config, int spool_dfd) {
  return Filter(in, out, config, spool_dfd).Run();
}

}  // namespace oc
