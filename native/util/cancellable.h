// `Cancellable`: a JS-visible owner of a GCancellable. The TypeScript layer connects an
// AbortSignal to `cancel()`; native methods take the object as an optional argument.
#pragma once

#include <napi.h>
#include <gio/gio.h>

#include "util/classes.h"
#include "util/gobj.h"

namespace oc {

class Cancellable : public TaggedWrap<Cancellable> {
 public:
  static constexpr const char *kClassName = "Cancellable";
  static void Init(Napi::Env env, Napi::Object exports);
  explicit Cancellable(const Napi::CallbackInfo &info);

  // A new ref to the GCancellable behind `v`, or null when v is undefined/null.
  // Throws a TypeError for anything else.
  static GObj<GCancellable> From(const Napi::Value &v);

 private:
  Napi::Value Cancel(const Napi::CallbackInfo &info);
  Napi::Value IsCancelled(const Napi::CallbackInfo &info);

  GObj<GCancellable> cancellable_;
};

}  // namespace oc
