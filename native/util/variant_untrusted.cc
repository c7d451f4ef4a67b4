#include "util/variant_untrusted.h"

#include <cstring>

#include "util/failure.h"

namespace oc {
namespace {

// An upper bound on the nesting a type string allows (one level per container character).
int TypeDepthBound(const char *t) {
  int n = 0;
  for (; *t; t++)
    if (*t == 'a' || *t == 'm' || *t == '(' || *t == '{' || *t == 'v') n++;
  return n;
}

void Walk(GVariant *v, int level, const std::string &what) {
  if (level > kMaxVariantDepth)
    Fail(what + ": GVariant nesting deeper than " + std::to_string(kMaxVariantDepth) + " levels (the limit)");
  if (!g_variant_is_container(v)) return;
  const char *type = g_variant_get_type_string(v);
  // Without a `v` inside, the type alone bounds the depth: no need to visit every element.
  if (!strchr(type, 'v') && level + TypeDepthBound(type) <= kMaxVariantDepth) return;
  gsize n = g_variant_n_children(v);
  for (gsize i = 0; i < n; i++) {
    GVar child(g_variant_get_child_value(v, i));
    Walk(child.get(), level + 1, what);
  }
}

}  // namespace

GVar VariantFromUntrusted(const void *data, size_t size, const char *type, const std::string &what) {
  GBytesPtr bytes(g_bytes_new(data, size));
  GVar v = TakeVariant(g_variant_new_from_bytes(G_VARIANT_TYPE(type), bytes.get(), FALSE));
  GVar normal = TakeVariant(g_variant_get_normal_form(v.get()));
  Walk(normal.get(), 1, what);
  return normal;
}

}  // namespace oc
