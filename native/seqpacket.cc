// Placeholder: filled in by its issue.
#include "modules.h"

namespace oc {
void InitSeqpacket(Napi::Env, Napi::Object) {}
}  // namespace oc
