// The JS side of the layer jobs' shared parts (layer/blob.h): blob digests and layer results as
// JS objects, and the options every layer job takes (`{fd}`/`{path}`, `mediaType`, `progress`).
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "codec/media_type.h"
#include "layer/blob.h"

namespace oc {

// Sets diffId, digest, size and uncompressedSize on `o`.
void SetBlobDigests(Napi::Env env, Napi::Object o, const BlobDigests &d);

// { diffId, digest, size, uncompressedSize, mediaType, commit? }
Napi::Object LayerResultToJs(Napi::Env env, const LayerResult &r);

// `{ fd }` or `{ path }` of a JS options object (`where` names it in TypeErrors).
void ParseFdOrPath(const Napi::Object &o, const std::string &where, int *fd, std::string *path);

// The compression named by `mediaType` of a JS options object: a TypeError when it is not a
// string, the JS form of CompressionOfMediaType's error when it names no layer type.
Compression ParseMediaType(const Napi::Object &o, const std::string &where);

// `progress` of a JS options object: a counter from progressCounter(), whose element 0 a job
// publishes its input byte count into (FdSource). The counter's memory is the
// addon's, shared by the JS array and every job given it: `keep` is the job's share, so `slot`
// stays valid for the job's whole life whatever JS does with the array (a transfer, a
// terminated worker). `slot` is null without one.
struct ProgressSlot {
  uint64_t *slot = nullptr;
  std::shared_ptr<void> keep;
};
ProgressSlot ParseProgressSlot(const Napi::Object &o, const std::string &where);

// Registers progressCounter() → BigUint64Array(1) over such memory.
void InitProgressCounter(Napi::Env env, Napi::Object exports);

}  // namespace oc
