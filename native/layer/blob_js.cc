#include "layer/blob_js.h"

#include <atomic>

#include "util/args.h"
#include "util/classes.h"
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

namespace {

// A progress counter: the JS array's external memory and the jobs' share of it.
struct Counter {
  uint64_t value = 0;  // first: the ArrayBuffer's data pointer is the block's address
  std::atomic<int> refs{1};
  void Unref() {
    if (--refs == 0) delete this;
  }
};
const napi_type_tag kCounterTag = TypeTagOf("ProgressCounter");

// progressCounter() → BigUint64Array of one element, 0; element 0 is written by the jobs it is
// given to. Its memory is freed when neither the array nor a job holds it any more.
Napi::Value ProgressCounterJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto *c = new Counter();
  Napi::ArrayBuffer buf;
  try {
    buf = Napi::ArrayBuffer::New(env, &c->value, sizeof c->value,
                                 [](Napi::Env, void *, Counter *counter) { counter->Unref(); }, c);
  } catch (...) {
    delete c;
    throw;
  }
  if (napi_type_tag_object(env, buf, &kCounterTag) != napi_ok)
    throw Napi::Error::New(env, "progressCounter: cannot tag the counter");
  return Napi::TypedArrayOf<uint64_t>::New(env, 1, buf, 0, napi_biguint64_array);
}

}  // namespace

ProgressSlot ParseProgressSlot(const Napi::Object &o, const std::string &where) {
  ProgressSlot p;
  Napi::Value v = o.Get("progress");
  if (v.IsUndefined() || v.IsNull()) return p;
  bool ours = false;
  Napi::ArrayBuffer buf;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_biguint64_array) {
    buf = v.As<Napi::TypedArray>().ArrayBuffer();
    ours = napi_check_object_type_tag(o.Env(), buf, &kCounterTag, &ours) == napi_ok && ours;
  }
  if (!ours || buf.ByteLength() != sizeof(uint64_t) || v.As<Napi::TypedArray>().ElementLength() != 1)
    throw Napi::TypeError::New(o.Env(), where + ": progress must be a counter from progressCounter()");
  auto *c = reinterpret_cast<Counter *>(buf.Data());
  c->refs++;
  p.slot = &c->value;
  p.keep = std::shared_ptr<void>(c, [](void *counter) { static_cast<Counter *>(counter)->Unref(); });
  return p;
}

void InitProgressCounter(Napi::Env env, Napi::Object exports) {
  exports.Set("progressCounter", Napi::Function::New(env, ProgressCounterJs, "progressCounter"));
}

Napi::Object LayerResultToJs(Napi::Env env, const LayerResult &r) {
  Napi::Object o = Napi::Object::New(env);
  SetBlobDigests(env, o, r);
  o.Set("mediaType", r.media_type);
  if (!r.commit.empty()) o.Set("commit", r.commit);
  return o;
}

}  // namespace oc
