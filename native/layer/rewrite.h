// Tar-level update of a commit layer's detached metadata (spec §6).
#pragma once

#include <napi.h>

namespace oc {
// Registers rewriteDetachedMetadata(options, detached | null, cancellable?).
void InitTarRewrite(Napi::Env env, Napi::Object exports);
}  // namespace oc
