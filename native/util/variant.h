// GVariant <-> JS with the type kept, so metadata round-trips byte for byte.
//
// A typed value is `{ type: string, value }`; `value` is the plain JS form of that type:
//   b → boolean; y n q i u h d → number; x t → bigint; s o g → string; ay → Uint8Array;
//   v → typed value; m* → null | value; a{KV} → Map (insertion order = serialized order);
//   other arrays and tuples → Array of plain values.
#pragma once

#include <napi.h>
#include <glib.h>

namespace oc {

// Plain JS form of `v` (no type wrapper).
Napi::Value VariantToPlain(Napi::Env env, GVariant *v);
// `{ type, value }`.
Napi::Object VariantToTyped(Napi::Env env, GVariant *v);
// Builds a new (floating) GVariant of `type` from a plain JS value; throws a TypeError naming
// the path (e.g. "metadata.version") on a mismatch.
GVariant *PlainToVariant(const Napi::Value &value, const GVariantType *type, const std::string &path);
// Builds from `{ type, value }`.
GVariant *TypedToVariant(const Napi::Value &typed, const std::string &path);

}  // namespace oc
