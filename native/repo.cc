// Placeholder: filled in by its issue.
#include "modules.h"

namespace oc {
void InitRepo(Napi::Env, Napi::Object) {}
}  // namespace oc
