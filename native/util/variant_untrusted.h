// Serialized GVariants from untrusted input (layer metadata objects, xattrs blobs): loaded in
// normal form with their nesting depth bounded. Node-free, so the fuzz harnesses link it.
#pragma once

#include <glib.h>

#include <cstddef>
#include <string>

#include "util/gobj.h"

namespace oc {

// Containers (arrays, tuples, dict entries, maybes, variants) nested in one value. GLib itself
// stops following `v` at 128 levels (substituting unit values); real ostree metadata nests < 10,
// and the JS conversions recurse once per level.
inline constexpr int kMaxVariantDepth = 64;

// `data` as a normal-form variant of `type`; fails (Failure) when it nests containers deeper than
// kMaxVariantDepth. `what` names the value in errors.
GVar VariantFromUntrusted(const void *data, size_t size, const char *type, const std::string &what);

}  // namespace oc
