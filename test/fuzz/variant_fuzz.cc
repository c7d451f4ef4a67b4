// libFuzzer harness: serialized GVariants from untrusted layers (the import's metadata and
// xattrs types, plus `v` and a{sv} for nesting): normal form, depth limit, and a full walk.
#include <cstdint>
#include <cstring>

#include "util/failure.h"
#include "util/variant_untrusted.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const kTypes[] = {"(a{sv}aya(say)sstayay)", "a{sv}", "(a(say)a(sayay))", "(uuua(ayay))",
                                       "a(ayay)", "v", "av", "(a{sv}v)"};
  if (size < 1) return 0;
  const char *type = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  try {
    oc::GVar v = oc::VariantFromUntrusted(data + 1, size - 1, type, "fuzz");
    if (!g_variant_is_normal_form(v.get())) __builtin_trap();
    // Printing visits every value; reparsing the normal form's bytes gives the same value.
    oc::GStr text(g_variant_print(v.get(), TRUE));
    oc::GVar again = oc::VariantFromUntrusted(g_variant_get_data(v.get()), g_variant_get_size(v.get()), type, "again");
    if (!g_variant_equal(v.get(), again.get())) __builtin_trap();
  } catch (const oc::Failure &) {
  }
  return 0;
}
