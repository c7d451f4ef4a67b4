// Whether a transaction opened through this addon is open on an OstreeRepo. libostree has no
// getter and asserts (aborting the process) on some calls outside a transaction, so bindings
// check this first. Kept as GObject data: MT-safe, per OstreeRepo like libostree's own state.
#pragma once

#include <ostree.h>

namespace oc {

inline constexpr const char kInTransactionKey[] = "ostree-container-in-transaction";

inline void SetInTransaction(OstreeRepo *repo, bool open) {
  g_object_set_data(G_OBJECT(repo), kInTransactionKey, GINT_TO_POINTER(open ? 1 : 0));
}

inline bool InTransaction(OstreeRepo *repo) {
  return GPOINTER_TO_INT(g_object_get_data(G_OBJECT(repo), kInTransactionKey)) != 0;
}

}  // namespace oc
