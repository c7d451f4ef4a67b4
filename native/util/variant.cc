// GVariant <-> JS conversion; the mapping is documented in variant.h.
#include "util/variant.h"

#include <cmath>
#include <limits>

#include "util/args.h"
#include "util/gobj.h"
#include "util/variant_untrusted.h"

namespace oc {
namespace {

// Bounds the recursion of the conversions below (one level per nested container), so a deeply
// nested JS value or GVariant is a RangeError, not a stack overflow. JS thread only.
class DepthGuard {
 public:
  DepthGuard(Napi::Env env, const std::string &path) {
    if (depth_ >= kMaxVariantDepth)
      throw Napi::RangeError::New(env, (path.empty() ? std::string("value") : path) + ": GVariant nesting deeper than " +
                                           std::to_string(kMaxVariantDepth) + " levels (the limit)");
    depth_++;
  }
  ~DepthGuard() { depth_--; }
  DepthGuard(const DepthGuard &) = delete;
  DepthGuard &operator=(const DepthGuard &) = delete;

 private:
  static thread_local int depth_;
};
thread_local int DepthGuard::depth_ = 0;

struct TypeStr {
  explicit TypeStr(const GVariantType *t) : s(g_variant_type_dup_string(t)) {}
  GStr s;
  const char *c() const { return s.get(); }
};

// Clears the builder on every exit path (end() already clears it; clearing twice is allowed).
struct Builder {
  explicit Builder(const GVariantType *t) { g_variant_builder_init(&b, t); }
  ~Builder() { g_variant_builder_clear(&b); }
  void Add(GVariant *floating_or_owned) {
    GVar child = TakeVariant(floating_or_owned);
    g_variant_builder_add_value(&b, child.get());
  }
  GVariant *End() { return g_variant_builder_end(&b); }
  GVariantBuilder b;
};

std::string Describe(const Napi::Value &v) {
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsBoolean()) return "boolean";
  if (v.IsNumber()) return "number";
  if (v.IsBigInt()) return "bigint";
  if (v.IsString()) return "string";
  if (v.IsTypedArray()) return "typed array";
  if (v.IsArray()) return "array";
  if (v.IsFunction()) return "function";
  return "object";
}

[[noreturn]] void Mismatch(const Napi::Value &v, const GVariantType *type, const std::string &path,
                           const char *expected) {
  TypeStr ts(type);
  throw Napi::TypeError::New(v.Env(), (path.empty() ? std::string("value") : path) + ": expected " + expected +
                                          " for type '" + ts.c() + "', got " + Describe(v));
}

bool IsMap(const Napi::Value &v) {
  if (!v.IsObject()) return false;
  Napi::Value ctor = v.Env().Global().Get("Map");
  return v.As<Napi::Object>().InstanceOf(ctor.As<Napi::Function>());
}

// [[k, v], …] of a Map, in insertion order.
Napi::Array MapEntries(const Napi::Value &map) {
  Napi::Env env = map.Env();
  Napi::Function from = env.Global().Get("Array").As<Napi::Object>().Get("from").As<Napi::Function>();
  return from.Call({map}).As<Napi::Array>();
}

double IntegerArg(const Napi::Value &v, const GVariantType *t, const std::string &path, double lo, double hi) {
  if (!v.IsNumber()) Mismatch(v, t, path, "a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::trunc(d) != d || d < lo || d > hi) {
    TypeStr ts(t);
    throw Napi::RangeError::New(v.Env(), path + ": " + std::to_string(d) + " is not a valid '" + ts.c() + "' integer");
  }
  return d;
}

GVariant *BytesToVariant(const Napi::Value &v, const GVariantType *t, const std::string &path) {
  if (!IsUint8Array(v)) Mismatch(v, t, path, "a Uint8Array");
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  GBytesPtr bytes(g_bytes_new(a.Data(), a.ByteLength()));
  return g_variant_new_from_bytes(G_VARIANT_TYPE_BYTESTRING, bytes.get(), TRUE);
}

std::string ChildPath(const std::string &path, const Napi::Value &key, size_t index) {
  if (key.IsString()) return path + "." + key.As<Napi::String>().Utf8Value();
  return path + "[" + std::to_string(index) + "]";
}

GVariant *DictToVariant(const Napi::Value &v, const GVariantType *t, const std::string &path) {
  const GVariantType *entry = g_variant_type_element(t);
  const GVariantType *kt = g_variant_type_key(entry);
  const GVariantType *vt = g_variant_type_value(entry);
  Builder b(t);
  auto add = [&](const Napi::Value &k, const Napi::Value &val, size_t i) {
    std::string p = ChildPath(path, k, i);
    GVar key = TakeVariant(PlainToVariant(k, kt, p + " (key)"));
    GVar value = TakeVariant(PlainToVariant(val, vt, p));
    b.Add(g_variant_new_dict_entry(key.get(), value.get()));
  };
  if (IsMap(v)) {
    Napi::Array entries = MapEntries(v);
    for (uint32_t i = 0; i < entries.Length(); i++) {
      Napi::Array kv = entries.Get(i).As<Napi::Array>();
      add(kv.Get(0u), kv.Get(1u), i);
    }
  } else if (v.IsObject() && !v.IsArray() && !v.IsTypedArray() && g_variant_type_equal(kt, G_VARIANT_TYPE_STRING)) {
    Napi::Object o = v.As<Napi::Object>();
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      Napi::Value k = keys.Get(i);
      add(k, o.Get(k), i);
    }
  } else {
    Mismatch(v, t, path, "a Map");
  }
  return b.End();
}

GVariant *ArrayToVariant(const Napi::Value &v, const GVariantType *t, const std::string &path) {
  const GVariantType *et = g_variant_type_element(t);
  if (g_variant_type_equal(et, G_VARIANT_TYPE_BYTE)) return BytesToVariant(v, t, path);
  if (g_variant_type_is_dict_entry(et)) return DictToVariant(v, t, path);
  if (!v.IsArray()) Mismatch(v, t, path, "an Array");
  Napi::Array a = v.As<Napi::Array>();
  Builder b(t);
  for (uint32_t i = 0; i < a.Length(); i++)
    b.Add(PlainToVariant(a.Get(i), et, path + "[" + std::to_string(i) + "]"));
  return b.End();
}

GVariant *TupleToVariant(const Napi::Value &v, const GVariantType *t, const std::string &path) {
  if (!v.IsArray()) Mismatch(v, t, path, "an Array");
  Napi::Array a = v.As<Napi::Array>();
  gsize n = g_variant_type_n_items(t);
  if (a.Length() != n) {
    TypeStr ts(t);
    throw Napi::TypeError::New(v.Env(), path + ": expected " + std::to_string(n) + " items for type '" + ts.c() +
                                            "', got " + std::to_string(a.Length()));
  }
  Builder b(t);
  uint32_t i = 0;
  for (const GVariantType *it = g_variant_type_first(t); it; it = g_variant_type_next(it), i++)
    b.Add(PlainToVariant(a.Get(i), it, path + "[" + std::to_string(i) + "]"));
  return b.End();
}

Napi::Value ArrayToPlain(Napi::Env env, GVariant *v) {
  const GVariantType *et = g_variant_type_element(g_variant_get_type(v));
  if (g_variant_type_equal(et, G_VARIANT_TYPE_BYTE)) {
    gsize n = 0;
    const void *data = g_variant_get_fixed_array(v, &n, 1);
    return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t *>(data), n);
  }
  gsize n = g_variant_n_children(v);
  if (g_variant_type_is_dict_entry(et)) {
    Napi::Object map = env.Global().Get("Map").As<Napi::Function>().New({});
    Napi::Function set = map.Get("set").As<Napi::Function>();
    for (gsize i = 0; i < n; i++) {
      GVar entry(g_variant_get_child_value(v, i));
      GVar k(g_variant_get_child_value(entry.get(), 0));
      GVar val(g_variant_get_child_value(entry.get(), 1));
      set.Call(map, {VariantToPlain(env, k.get()), VariantToPlain(env, val.get())});
    }
    return map;
  }
  Napi::Array a = Napi::Array::New(env, n);
  for (gsize i = 0; i < n; i++) {
    GVar c(g_variant_get_child_value(v, i));
    a.Set(static_cast<uint32_t>(i), VariantToPlain(env, c.get()));
  }
  return a;
}

}  // namespace

Napi::Value VariantToPlain(Napi::Env env, GVariant *v) {
  DepthGuard guard(env, "");
  switch (g_variant_classify(v)) {
    case G_VARIANT_CLASS_BOOLEAN: return Napi::Boolean::New(env, g_variant_get_boolean(v));
    case G_VARIANT_CLASS_BYTE: return Napi::Number::New(env, g_variant_get_byte(v));
    case G_VARIANT_CLASS_INT16: return Napi::Number::New(env, g_variant_get_int16(v));
    case G_VARIANT_CLASS_UINT16: return Napi::Number::New(env, g_variant_get_uint16(v));
    case G_VARIANT_CLASS_INT32: return Napi::Number::New(env, g_variant_get_int32(v));
    case G_VARIANT_CLASS_UINT32: return Napi::Number::New(env, g_variant_get_uint32(v));
    case G_VARIANT_CLASS_HANDLE: return Napi::Number::New(env, g_variant_get_handle(v));
    case G_VARIANT_CLASS_DOUBLE: return Napi::Number::New(env, g_variant_get_double(v));
    case G_VARIANT_CLASS_INT64: return Napi::BigInt::New(env, static_cast<int64_t>(g_variant_get_int64(v)));
    case G_VARIANT_CLASS_UINT64: return Napi::BigInt::New(env, static_cast<uint64_t>(g_variant_get_uint64(v)));
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE: return Napi::String::New(env, g_variant_get_string(v, nullptr));
    case G_VARIANT_CLASS_VARIANT: {
      GVar inner(g_variant_get_variant(v));
      return VariantToTyped(env, inner.get());
    }
    case G_VARIANT_CLASS_MAYBE: {
      GVar inner(g_variant_get_maybe(v));
      return inner ? VariantToPlain(env, inner.get()) : env.Null();
    }
    case G_VARIANT_CLASS_ARRAY: return ArrayToPlain(env, v);
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY: {
      gsize n = g_variant_n_children(v);
      Napi::Array a = Napi::Array::New(env, n);
      for (gsize i = 0; i < n; i++) {
        GVar c(g_variant_get_child_value(v, i));
        a.Set(static_cast<uint32_t>(i), VariantToPlain(env, c.get()));
      }
      return a;
    }
  }
  throw Napi::Error::New(env, "unsupported GVariant class");
}

Napi::Object VariantToTyped(Napi::Env env, GVariant *v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", Napi::String::New(env, g_variant_get_type_string(v)));
  o.Set("value", VariantToPlain(env, v));
  return o;
}

GVariant *PlainToVariant(const Napi::Value &v, const GVariantType *t, const std::string &path) {
  Napi::Env env = v.Env();
  DepthGuard guard(env, path);
  if (!g_variant_type_is_definite(t)) {
    TypeStr ts(t);
    throw Napi::TypeError::New(env, path + ": type '" + std::string(ts.c()) + "' is not definite");
  }
  switch (g_variant_type_peek_string(t)[0]) {
    case 'b':
      if (!v.IsBoolean()) Mismatch(v, t, path, "a boolean");
      return g_variant_new_boolean(v.As<Napi::Boolean>().Value());
    case 'y': return g_variant_new_byte(static_cast<guint8>(IntegerArg(v, t, path, 0, 255)));
    case 'n': return g_variant_new_int16(static_cast<gint16>(IntegerArg(v, t, path, -32768, 32767)));
    case 'q': return g_variant_new_uint16(static_cast<guint16>(IntegerArg(v, t, path, 0, 65535)));
    case 'i': return g_variant_new_int32(static_cast<gint32>(IntegerArg(v, t, path, G_MININT32, G_MAXINT32)));
    case 'h': return g_variant_new_handle(static_cast<gint32>(IntegerArg(v, t, path, G_MININT32, G_MAXINT32)));
    case 'u': return g_variant_new_uint32(static_cast<guint32>(IntegerArg(v, t, path, 0, G_MAXUINT32)));
    case 'd':
      if (!v.IsNumber()) Mismatch(v, t, path, "a number");
      return g_variant_new_double(v.As<Napi::Number>().DoubleValue());
    case 'x': {
      if (v.IsNumber()) return g_variant_new_int64(static_cast<gint64>(IntegerArg(v, t, path, -9007199254740991.0, 9007199254740991.0)));
      if (!v.IsBigInt()) Mismatch(v, t, path, "a bigint");
      bool lossless = false;
      int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) throw Napi::RangeError::New(env, path + ": bigint out of range for type 'x'");
      return g_variant_new_int64(x);
    }
    case 't': {
      if (v.IsNumber()) return g_variant_new_uint64(static_cast<guint64>(IntegerArg(v, t, path, 0, 9007199254740991.0)));
      if (!v.IsBigInt()) Mismatch(v, t, path, "a bigint");
      bool lossless = false;
      uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless) throw Napi::RangeError::New(env, path + ": bigint out of range for type 't'");
      return g_variant_new_uint64(x);
    }
    case 's': case 'o': case 'g': {
      if (!v.IsString()) Mismatch(v, t, path, "a string");
      std::string s = v.As<Napi::String>().Utf8Value();
      char c = g_variant_type_peek_string(t)[0];
      if (c == 'o' && !g_variant_is_object_path(s.c_str()))
        throw Napi::TypeError::New(env, path + ": '" + s + "' is not a valid object path");
      if (c == 'g' && !g_variant_is_signature(s.c_str()))
        throw Napi::TypeError::New(env, path + ": '" + s + "' is not a valid signature");
      if (s.find('\0') != std::string::npos) throw Napi::TypeError::New(env, path + ": string contains a NUL byte");
      return c == 's' ? g_variant_new_string(s.c_str()) : c == 'o' ? g_variant_new_object_path(s.c_str())
                                                                   : g_variant_new_signature(s.c_str());
    }
    case 'v': {
      GVar inner = TakeVariant(TypedToVariant(v, path));
      return g_variant_new_variant(inner.get());
    }
    case 'm': {
      const GVariantType *et = g_variant_type_element(t);
      if (v.IsNull() || v.IsUndefined()) return g_variant_new_maybe(et, nullptr);
      GVar inner = TakeVariant(PlainToVariant(v, et, path));
      return g_variant_new_maybe(et, inner.get());
    }
    case 'a': return ArrayToVariant(v, t, path);
    case '(': return TupleToVariant(v, t, path);
    case '{': {
      if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) Mismatch(v, t, path, "a [key, value] Array");
      Napi::Array a = v.As<Napi::Array>();
      GVar key = TakeVariant(PlainToVariant(a.Get(0u), g_variant_type_key(t), path + "[0]"));
      GVar value = TakeVariant(PlainToVariant(a.Get(1u), g_variant_type_value(t), path + "[1]"));
      return g_variant_new_dict_entry(key.get(), value.get());
    }
  }
  TypeStr ts(t);
  throw Napi::TypeError::New(env, path + ": unsupported type '" + std::string(ts.c()) + "'");
}

GVariant *TypedToVariant(const Napi::Value &typed, const std::string &path) {
  Napi::Env env = typed.Env();
  if (!typed.IsObject() || typed.IsArray() || !typed.As<Napi::Object>().Get("type").IsString())
    throw Napi::TypeError::New(env, (path.empty() ? std::string("value") : path) +
                                        ": expected a typed value { type, value }, got " + Describe(typed));
  Napi::Object o = typed.As<Napi::Object>();
  std::string type = o.Get("type").As<Napi::String>().Utf8Value();
  if (!g_variant_type_string_is_valid(type.c_str()))
    throw Napi::TypeError::New(env, path + ": invalid GVariant type string '" + type + "'");
  return PlainToVariant(o.Get("value"), G_VARIANT_TYPE(type.c_str()), path);
}

namespace {

GVar VariantFromBytesArgs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "type must be a GVariant type string");
  std::string type = info[0].As<Napi::String>().Utf8Value();
  if (!g_variant_type_string_is_valid(type.c_str()) || !g_variant_type_is_definite(G_VARIANT_TYPE(type.c_str())))
    throw Napi::TypeError::New(env, "invalid GVariant type string '" + type + "'");
  if (!IsUint8Array(info[1])) throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
  Napi::Uint8Array a = info[1].As<Napi::Uint8Array>();
  GBytesPtr bytes(g_bytes_new(a.Data(), a.ByteLength()));
  return TakeVariant(g_variant_new_from_bytes(G_VARIANT_TYPE(type.c_str()), bytes.get(), FALSE));
}

Napi::Value VariantToBytesJs(const Napi::CallbackInfo &info) {
  GVar v = TakeVariant(TypedToVariant(info[0], "value"));
  GVar normal(g_variant_get_normal_form(v.get()));
  return Napi::Buffer<uint8_t>::Copy(info.Env(), static_cast<const uint8_t *>(g_variant_get_data(normal.get())),
                                     g_variant_get_size(normal.get()));
}

Napi::Value VariantFromBytesJs(const Napi::CallbackInfo &info) {
  GVar v = VariantFromBytesArgs(info);
  return VariantToTyped(info.Env(), v.get());
}

Napi::Value VariantIsNormalJs(const Napi::CallbackInfo &info) {
  GVar v = VariantFromBytesArgs(info);
  return Napi::Boolean::New(info.Env(), g_variant_is_normal_form(v.get()));
}

Napi::Value VariantPrintJs(const Napi::CallbackInfo &info) {
  GVar v = TakeVariant(TypedToVariant(info[0], "value"));
  GStr s(g_variant_print(v.get(), info[1].ToBoolean().Value()));
  return Napi::String::New(info.Env(), s.get());
}

}  // namespace

void InitVariant(Napi::Env env, Napi::Object exports) {
  exports.Set("variantToBytes", Napi::Function::New(env, VariantToBytesJs, "variantToBytes"));
  exports.Set("variantFromBytes", Napi::Function::New(env, VariantFromBytesJs, "variantFromBytes"));
  exports.Set("variantIsNormal", Napi::Function::New(env, VariantIsNormalJs, "variantIsNormal"));
  exports.Set("variantPrint", Napi::Function::New(env, VariantPrintJs, "variantPrint"));
}

}  // namespace oc
