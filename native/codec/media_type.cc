#include "codec/media_type.h"

#include "util/failure.h"

namespace oc {

Compression ParseCompression(const std::string &name) {
  if (name == "gzip") return Compression::Gzip;
  if (name == "gzip-fast") return Compression::GzipFast;
  if (name == "zstd") return Compression::Zstd;
  if (name == "none") return Compression::None;
  Fail("Unknown compression '" + name + "' (expected gzip, gzip-fast, zstd or none)", "INVALID_ARGUMENT");
}

const char *MediaTypeOf(Compression c) {
  switch (c) {
    case Compression::None: return "application/vnd.oci.image.layer.v1.tar";
    case Compression::Gzip:
    case Compression::GzipFast: return "application/vnd.oci.image.layer.v1.tar+gzip";
    case Compression::Zstd: return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return "";
}

Compression CompressionOfMediaType(const std::string &mt) {
  if (mt == "application/vnd.oci.image.layer.v1.tar" ||
      mt == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
      mt == "application/vnd.docker.image.rootfs.diff.tar")
    return Compression::None;
  if (mt == "application/vnd.oci.image.layer.v1.tar+gzip" ||
      mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
      mt == "application/vnd.docker.image.rootfs.diff.tar.gzip" ||
      mt == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
    return Compression::Gzip;
  if (mt == "application/vnd.oci.image.layer.v1.tar+zstd" ||
      mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" ||
      mt == "application/vnd.docker.image.rootfs.diff.tar.zstd")
    return Compression::Zstd;
  Fail("Unhandled layer type: " + mt, "NOT_SUPPORTED");  // upstream's text
}

}  // namespace oc
