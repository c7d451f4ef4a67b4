// Placeholder: filled in by its issue.
#include "modules.h"

namespace oc {
void InitLayerExport(Napi::Env, Napi::Object) {}
}  // namespace oc
