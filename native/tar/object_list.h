// The content objects of a chunk layer with their tree paths, compact: a raw checksum and a chain
// of path records per object, every path's bytes in one arena. About 56 bytes per object and
// path beyond the path itself (a hex string and a vector of strings per object cost ~300), which
// is what a 100 000-file export keeps in memory until its layer is written.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace oc {

class ObjectList {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  void Reserve(size_t objects) { objs_.reserve(objects); }
  size_t size() const { return objs_.size(); }
  bool empty() const { return objs_.empty(); }

  // A new object (raw sha256); returns its index.
  size_t AddObject(const uint8_t *csum) {
    Obj o;
    memcpy(o.csum, csum, sizeof o.csum);
    objs_.push_back(o);
    return objs_.size() - 1;
  }

  // Appends an absolute tree path ("/usr/bin/bash") to object `i`: its paths keep their order.
  void AddPath(size_t i, std::string_view path) {
    paths_.push_back(PathRec{arena_.size(), static_cast<uint32_t>(path.size()), kNone});
    arena_.append(path);
    uint32_t rec = static_cast<uint32_t>(paths_.size() - 1);
    Obj &o = objs_[i];
    if (o.first == kNone) o.first = rec;
    else paths_[o.last].next = rec;
    o.last = rec;
  }

  const uint8_t *Checksum(size_t i) const { return objs_[i].csum; }

  template <typename F>
  void ForEachPath(size_t i, F f) const {
    for (uint32_t r = objs_[i].first; r != kNone; r = paths_[r].next)
      f(std::string_view(arena_.data() + paths_[r].offset, paths_[r].len));
  }

  // Checksum order (the order spec §1.4.6 writes objects in); stable, so of a checksum listed
  // twice the first comes first.
  void SortByChecksum() {
    std::stable_sort(objs_.begin(), objs_.end(),
                     [](const Obj &x, const Obj &y) { return memcmp(x.csum, y.csum, sizeof x.csum) < 0; });
  }

  // Frees everything (a written layer's list is not needed any more).
  void Release() {
    std::vector<Obj>().swap(objs_);
    std::vector<PathRec>().swap(paths_);
    std::string().swap(arena_);
  }

 private:
  struct Obj {
    uint8_t csum[32];
    uint32_t first = kNone, last = kNone;  // path records
  };
  struct PathRec {
    uint64_t offset;
    uint32_t len;
    uint32_t next;
  };
  std::vector<Obj> objs_;
  std::vector<PathRec> paths_;
  std::string arena_;
};

}  // namespace oc
