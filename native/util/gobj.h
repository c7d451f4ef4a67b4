// RAII owners for GLib/GObject values and file descriptors.
#pragma once

#include <glib-object.h>
#include <gio/gio.h>
#include <unistd.h>

#include <memory>
#include <utility>

namespace oc {

struct GObjectUnref {
  void operator()(gpointer p) const { if (p) g_object_unref(p); }
};
template <typename T>
using GObj = std::unique_ptr<T, GObjectUnref>;

struct GVariantUnref {
  void operator()(GVariant *v) const { if (v) g_variant_unref(v); }
};
using GVar = std::unique_ptr<GVariant, GVariantUnref>;

struct GBytesUnref {
  void operator()(GBytes *b) const { if (b) g_bytes_unref(b); }
};
using GBytesPtr = std::unique_ptr<GBytes, GBytesUnref>;

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};
using GStr = std::unique_ptr<char, GFree>;

struct GHashTableUnref {
  void operator()(GHashTable *h) const { if (h) g_hash_table_unref(h); }
};
using GHash = std::unique_ptr<GHashTable, GHashTableUnref>;

// Takes ownership of a floating or full reference and sinks it, so GVar always owns one ref.
// g_variant_take_ref, not ref_sink: libostree and GLib hand out full, non-floating references
// (ostree_repo_load_variant, g_variant_get_normal_form, …) that ref_sink would add a second,
// never-released reference to — a leak per loaded object.
inline GVar TakeVariant(GVariant *v) { return GVar(v ? g_variant_take_ref(v) : nullptr); }

// Owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd &operator=(Fd &&o) noexcept {
    if (this != &o) { reset(); fd_ = std::exchange(o.fd_, -1); }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace oc
