// Per-environment registry of wrapped-class constructors, so the addon works in several
// Node environments (worker threads) at once: no process-wide static references.
#pragma once

#include <napi.h>

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

// True when `v` is an instance of the registered class `name`.
inline bool IsInstance(const Napi::Value &v, const char *name) {
  if (!v.IsObject()) return false;
  auto &classes = GetAddonData(v.Env()).classes;
  auto it = classes.find(name);
  return it != classes.end() && v.As<Napi::Object>().InstanceOf(it->second.Value());
}

}  // namespace oc
