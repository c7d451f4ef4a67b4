// Placeholder: filled in by its issue.
#include "modules.h"

namespace oc {
void InitLayerImport(Napi::Env, Napi::Object) {}
}  // namespace oc
