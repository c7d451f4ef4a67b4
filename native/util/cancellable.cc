#include "util/cancellable.h"

#include "util/classes.h"

namespace oc {

void Cancellable::Init(Napi::Env env, Napi::Object exports) {
  Export(env, exports, {InstanceMethod("cancel", &Cancellable::Cancel),
                        InstanceAccessor("cancelled", &Cancellable::IsCancelled, nullptr)});
}

Cancellable::Cancellable(const Napi::CallbackInfo &info)
    : TaggedWrap<Cancellable>(info), cancellable_(g_cancellable_new()) {}

Napi::Value Cancellable::Cancel(const Napi::CallbackInfo &info) {
  g_cancellable_cancel(cancellable_.get());
  return info.Env().Undefined();
}

Napi::Value Cancellable::IsCancelled(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), g_cancellable_is_cancelled(cancellable_.get()));
}

GObj<GCancellable> Cancellable::From(const Napi::Value &v) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!IsInstance(v, "Cancellable"))
    throw Napi::TypeError::New(v.Env(), "expected a Cancellable");
  Cancellable *c = Unwrap(v.As<Napi::Object>());
  return GObj<GCancellable>(G_CANCELLABLE(g_object_ref(c->cancellable_.get())));
}

}  // namespace oc
