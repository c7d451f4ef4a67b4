// exportLayers' `assign`: one walk of a commit's tree hands every content object, with all its
// tree paths, to the layer the caller chose for it.
#include "layer/assign.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "repo/read.h"
#include "util/failure.h"
#include "util/hex.h"

namespace oc {
namespace {

struct Csum {
  uint8_t b[32];
  bool operator==(const Csum &o) const { return memcmp(b, o.b, sizeof b) == 0; }
  bool operator<(const Csum &o) const { return memcmp(b, o.b, sizeof b) < 0; }
};
struct CsumHash {
  size_t operator()(const Csum &c) const {
    size_t h;
    memcpy(&h, c.b, sizeof h);  // already uniformly distributed
    return h;
  }
};

std::string Hex(const Csum &c) { return HexOf(c.b, sizeof c.b); }

// Walks the tree as Chunking.create does (files, then subdirectories, in dirtree order; every
// occurrence of a shared subtree) and hands each object's paths to its layer.
class Assigner {
 public:
  Assigner(OstreeRepo *repo, const ObjectAssignment &a, std::vector<LayerSpec> &specs, GCancellable *c)
      : repo_(repo), a_(a), specs_(specs), c_(c) {
    // One sorted array (freed in one piece) rather than a node per object.
    size_t n = a.layers.size();
    listed_.resize(n);
    std::vector<size_t> per_layer(specs.size());
    for (size_t i = 0; i < n; i++) {
      memcpy(listed_[i].key.b, a.checksums.data() + 32 * i, 32);
      listed_[i].slot = Slot{a.layers[i], ObjectList::kNone};
      per_layer[a.layers[i]]++;
    }
    // stable: of a checksum listed twice, the first entry counts
    std::stable_sort(listed_.begin(), listed_.end(), [](const Listed &x, const Listed &y) { return x.key < y.key; });
    for (size_t l = 0; l < specs.size(); l++) specs[l].objects.Reserve(per_layer[l]);
  }

  void Run() {
    GVar commit = LoadVariant(repo_, OSTREE_OBJECT_TYPE_COMMIT, ResolveRev(repo_, a_.rev));
    GVar contents_v(g_variant_get_child_value(commit.get(), 6));
    std::string path;
    Walk(ChecksumHex(contents_v.get()), path);
    if (!uncovered_.empty()) {
      auto first = uncovered_.begin();
      for (auto it = uncovered_.begin(); it != uncovered_.end(); ++it)
        if (memcmp(it->first.b, first->first.b, 32) < 0) first = it;
      Fail("Content mapping does not cover " + std::to_string(uncovered_.size()) +
           " content object(s) of the commit, e.g. " + Hex(first->first) + " (" + first->second + ")");
    }
    // The exporter writes each layer's objects in checksum order.
    for (auto &s : specs_) s.objects.SortByChecksum();
  }

 private:
  struct Slot {
    uint32_t layer;
    uint32_t index;  // in specs_[layer].objects once seen, else ObjectList::kNone
  };
  struct Listed {
    Csum key;
    Slot slot;
  };

  void Walk(const std::string &tree, std::string &path) {
    CheckCancelled(c_);
    GVar t = LoadVariant(repo_, OSTREE_OBJECT_TYPE_DIR_TREE, tree);
    size_t base = path.size();
    ForEachTreeFileRaw(t.get(), tree, [&](const char *name, const uint8_t *b) {
      Csum k;
      memcpy(k.b, b, 32);
      path.resize(base);
      path.append("/").append(name);
      Add(k, path);
    });
    ForEachTreeDir(t.get(), [&](const char *name, GVariant *tree_v, GVariant *) {
      path.resize(base);
      path.append("/").append(name);
      Walk(ChecksumHex(tree_v), path);
    });
    path.resize(base);
  }

  void Add(const Csum &k, const std::string &path) {
    Slot *slot = nullptr;
    auto it = std::lower_bound(listed_.begin(), listed_.end(), k, [](const Listed &x, const Csum &y) { return x.key < y; });
    if (it != listed_.end() && it->key == k) {
      slot = &it->slot;
    } else if (a_.default_layer < 0) {
      uncovered_.emplace(k, path);  // keeps the first path
      return;
    } else {
      slot = &others_.emplace(k, Slot{static_cast<uint32_t>(a_.default_layer), ObjectList::kNone}).first->second;
    }
    Slot &s = *slot;
    ObjectList &objects = specs_[s.layer].objects;
    if (s.index == ObjectList::kNone) s.index = static_cast<uint32_t>(objects.AddObject(k.b));
    objects.AddPath(s.index, path);
  }

  OstreeRepo *repo_;
  const ObjectAssignment &a_;
  std::vector<LayerSpec> &specs_;
  GCancellable *c_;
  std::vector<Listed> listed_;                         // sorted by checksum
  std::unordered_map<Csum, Slot, CsumHash> others_;    // unlisted objects of the default layer
  std::unordered_map<Csum, std::string, CsumHash> uncovered_;
};

}  // namespace

void AssignObjects(OstreeRepo *repo, const ObjectAssignment &a, std::vector<LayerSpec> &specs, GCancellable *cancellable) {
  Assigner(repo, a, specs, cancellable).Run();
}

}  // namespace oc
