// Constants of the ostree-ext tar format (spec §1, §2.4): where the repo and its objects live in
// the tar, and upstream's size limits. Object paths themselves: tar/objpath.h.
#pragma once

#include <cstdint>

namespace oc {

inline constexpr const char kRepoPrefix[] = "sysroot/ostree/repo/";
inline constexpr const char kObjectsPrefix[] = "sysroot/ostree/repo/objects/";
// Upstream limits (spec §2.4).
inline constexpr uint64_t kMaxMetadataSize = 10485760;
inline constexpr uint64_t kMaxXattrsSize = 1048576;
inline constexpr uint64_t kInlineRegfileMax = 130048;

}  // namespace oc
