// Per-environment registry of wrapped-class constructors, so the addon works in several
// Node environments (worker threads) at once: no process-wide static references.
//
// Every wrapped object carries a type tag (napi_type_tag_object) naming its class; it is
// checked before any unwrap. A prototype can be changed from JavaScript (instanceof lies after
// Object.setPrototypeOf), a tag cannot, so no object is ever unwrapped as the wrong C++ type.
#pragma once

#include <napi.h>

#include <cstring>
#include <initializer_list>
#include <map>
#include <string>

namespace oc {

struct AddonData {
  std::map<std::string, Napi::FunctionReference> classes;
};

inline AddonData &GetAddonData(Napi::Env env) {
  AddonData *d = env.GetInstanceData<AddonData>();
  if (!d) {
    d = new AddonData();
    env.SetInstanceData(d);
  }
  return *d;
}

inline void RegisterClass(Napi::Env env, const char *name, Napi::Function ctor) {
  GetAddonData(env).classes[name] = Napi::Persistent(ctor);
}

// The tag of class `name`: an addon-specific upper half and the FNV-1a hash of the name.
inline napi_type_tag TypeTagOf(const char *name) {
  uint64_t h = 14695981039346656037ull;
  for (const char *p = name; *p; p++) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  return napi_type_tag{0x6f73747265652d63ull /* "ostree-c" */, h};
}

// True when `v` is an object created by the constructor of class `name`.
inline bool IsInstance(const Napi::Value &v, const char *name) {
  if (!v.IsObject()) return false;
  napi_type_tag tag = TypeTagOf(name);
  bool result = false;
  return napi_check_object_type_tag(v.Env(), v, &tag, &result) == napi_ok && result;
}

// ObjectWrap with a type tag: the constructor tags the new object, and Unwrap (which
// node-addon-api's method wrappers call as T::Unwrap for `this`) refuses untagged objects, so
// `Repo.prototype.path.call(otherObject)` is a TypeError, not a wild cast. T::kClassName names
// the class.
template <typename T>
class TaggedWrap : public Napi::ObjectWrap<T> {
 public:
  explicit TaggedWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<T>(info) {
    napi_type_tag tag = TypeTagOf(T::kClassName);
    if (napi_type_tag_object(info.Env(), info.This(), &tag) != napi_ok)
      throw Napi::TypeError::New(info.Env(), std::string(T::kClassName) + ": object is already initialised");
  }

  // Defines class T (named T::kClassName) with `props`, registers it for this environment and
  // sets it on `exports`.
  static void Export(Napi::Env env, Napi::Object exports,
                     const std::initializer_list<typename Napi::ObjectWrap<T>::PropertyDescriptor> &props = {}) {
    Napi::Function f = Napi::ObjectWrap<T>::DefineClass(env, T::kClassName, props);
    RegisterClass(env, T::kClassName, f);
    exports.Set(T::kClassName, f);
  }

  static T *Unwrap(Napi::Object o) {
    if (!IsInstance(o, T::kClassName))
      throw Napi::TypeError::New(o.Env(), std::string("expected a ") + T::kClassName + " object as `this`");
    return Napi::ObjectWrap<T>::Unwrap(o);
  }
};

}  // namespace oc
