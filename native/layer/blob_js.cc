#include "layer/blob_js.h"

#include "util/args.h"
#include "util/errors.h"

namespace oc {

void SetBlobDigests(Napi::Env env, Napi::Object o, const BlobDigests &d) {
  o.Set("diffId", d.diff_id);
  o.Set("digest", d.digest);
  o.Set("size", Napi::Number::New(env, static_cast<double>(d.size)));
  o.Set("uncompressedSize", Napi::Number::New(env, static_cast<double>(d.uncompressed_size)));
}

void ParseFdOrPath(const Napi::Object &o, const std::string &where, int *fd, std::string *path) {
  Napi::Value f = o.Get("fd");
  if (f.IsNumber()) {
    *fd = FdArg(f, (where + ".fd").c_str());
    return;
  }
  Napi::Value p = o.Get("path");
  if (!p.IsString() || p.As<Napi::String>().Utf8Value().empty())
    throw Napi::TypeError::New(o.Env(), where + " needs an fd or a path");
  *path = p.As<Napi::String>();
}

Compression ParseMediaType(const Napi::Object &o, const std::string &where) {
  Napi::Value mt = o.Get("mediaType");
  if (!mt.IsString()) throw Napi::TypeError::New(o.Env(), where + ": mediaType must be a string");
  return RethrowAsJs(o.Env(), [&] { return CompressionOfMediaType(mt.As<Napi::String>()); });
}

ProgressSlot ParseProgressSlot(const Napi::Object &o, const std::string &where) {
  ProgressSlot p;
  Napi::Value v = o.Get("progress");
  if (v.IsUndefined() || v.IsNull()) return p;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array ||
      v.As<Napi::TypedArray>().ElementLength() < 1)
    throw Napi::TypeError::New(o.Env(), where + ": progress must be a BigUint64Array");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  p.slot = reinterpret_cast<uint64_t *>(static_cast<uint8_t *>(a.ArrayBuffer().Data()) + a.ByteOffset());
  p.keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(v));
  return p;
}

Napi::Object LayerResultToJs(Napi::Env env, const LayerResult &r) {
  Napi::Object o = Napi::Object::New(env);
  SetBlobDigests(env, o, r);
  o.Set("mediaType", r.media_type);
  if (!r.commit.empty()) o.Set("commit", r.commit);
  return o;
}

}  // namespace oc
