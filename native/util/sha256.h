// Streaming sha256 (OpenSSL EVP); failures are Failures.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <string>

#include "util/failure.h"
#include "util/hex.h"

namespace oc {

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
    return HexOf(md, sizeof md);
  }
  static std::string Of(const void *p, size_t n) {
    Sha256 h;
    h.Update(p, n);
    return h.Hex();
  }

 private:
  EVP_MD_CTX *ctx_;
};

}  // namespace oc
