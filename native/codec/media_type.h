// The layer compressions and the one table between them, their option names and the OCI/Docker
// layer media types.
#pragma once

#include <string>

namespace oc {

enum class Compression { None, Gzip, GzipFast, Zstd };

// 'gzip' | 'gzip-fast' | 'zstd' | 'none'
Compression ParseCompression(const std::string &name);
// The OCI media type a layer written with `c` gets.
const char *MediaTypeOf(Compression c);
// OCI/Docker layer media type → how to decompress it; unknown types fail.
Compression CompressionOfMediaType(const std::string &media_type);

}  // namespace oc
