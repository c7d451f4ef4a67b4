// Shared by the layer data plane (export, import, detached-metadata rewrite): a failure type
// that carries an ErrorInfo through worker-thread code, context chains, sha256, object paths.
#pragma once

#include <glib.h>
#include <ostree.h>
#include <openssl/evp.h>

#include <cstdint>
#include <exception>
#include <string>
#include <utility>

#include "util/error_info.h"

namespace oc {

[[noreturn]] inline void Fail(const std::string &msg, const char *code = "FAILED") {
  ErrorInfo i;
  i.Set(msg, code);
  throw Failure(std::move(i));
}
[[noreturn]] inline void Fail(GErr &e) { throw Failure(e.Take()); }
// "context: <strerror>" with the errno name ("ENOSPC") as code.
[[noreturn]] inline void FailErrno(const std::string &context, int err) {
  ErrorInfo i;
  i.SetErrno(context, err);
  throw Failure(std::move(i));
}

// Runs f(); a Failure escaping it gets "context: " prepended (upstream-style chain).
template <typename F>
auto WithContext(const std::string &context, F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (Failure &e) {
    e.info.Prefix(context);
    throw;
  }
}

inline void CheckCancelled(GCancellable *c) {
  GErr e;
  if (g_cancellable_set_error_if_cancelled(c, e.out())) Fail(e);
}

// Streaming sha256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) Fail("sha256: init failed");
  }
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(const void *p, size_t n) {
    if (n && EVP_DigestUpdate(ctx_, p, n) != 1) Fail("sha256: update failed");
  }
  // Lowercase hex; the object is finished afterwards.
  std::string Hex() {
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_, md, &len) != 1) Fail("sha256: final failed");
    static const char digits[] = "0123456789abcdef";
    std::string out(64, '0');
    for (unsigned i = 0; i < 32; i++) {
      out[2 * i] = digits[md[i] >> 4];
      out[2 * i + 1] = digits[md[i] & 15];
    }
    return out;
  }
  static std::string Of(const void *p, size_t n) {
    Sha256 h;
    h.Update(p, n);
    return h.Hex();
  }

 private:
  EVP_MD_CTX *ctx_;
};

inline constexpr const char kRepoPrefix[] = "sysroot/ostree/repo/";
inline constexpr const char kObjectsPrefix[] = "sysroot/ostree/repo/objects/";
// Upstream limits (spec §2.4).
inline constexpr uint64_t kMaxMetadataSize = 10485760;
inline constexpr uint64_t kMaxXattrsSize = 1048576;
inline constexpr uint64_t kInlineRegfileMax = 130048;

// `sysroot/ostree/repo/objects/XX/<62>.<ext>`
inline std::string ObjectPath(const std::string &checksum, const char *ext) {
  return std::string(kObjectsPrefix) + checksum.substr(0, 2) + "/" + checksum.substr(2) + "." + ext;
}

// Rust Debug names used in upstream messages (spec §2.4).
inline const char *ObjectTypeName(OstreeObjectType t) {
  switch (t) {
    case OSTREE_OBJECT_TYPE_FILE: return "File";
    case OSTREE_OBJECT_TYPE_DIR_TREE: return "DirTree";
    case OSTREE_OBJECT_TYPE_DIR_META: return "DirMeta";
    case OSTREE_OBJECT_TYPE_COMMIT: return "Commit";
    case OSTREE_OBJECT_TYPE_TOMBSTONE_COMMIT: return "TombstoneCommit";
    case OSTREE_OBJECT_TYPE_COMMIT_META: return "CommitMeta";
    case OSTREE_OBJECT_TYPE_PAYLOAD_LINK: return "PayloadLink";
    case OSTREE_OBJECT_TYPE_FILE_XATTRS: return "FileXattrs";
    case OSTREE_OBJECT_TYPE_FILE_XATTRS_LINK: return "FileXattrsLink";
  }
  return "Unknown";
}

}  // namespace oc
