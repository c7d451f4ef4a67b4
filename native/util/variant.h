// GVariant <-> JS with the type kept, so metadata round-trips byte for byte.
//
// A typed value is `{ type: string, value }`; `value` is the plain JS form of that type:
//   b → boolean; y n q i u h d → number; x t → bigint; s o g → string; ay → Buffer (a Uint8Array);
//   v → typed value; m* → null | value; a{KV} → Map (insertion order = serialized order);
//   other arrays and tuples → Array of plain values; a lone dict entry {KV} → [key, value].
// Accepted on input besides the above: any Uint8Array for ay; a plain object for a{sV};
// a safe-integer number for x/t. Nested maybes (mm*) cannot tell "Nothing" from "Just Nothing":
// both read as null and null writes the outer Nothing.
#pragma once

#include <napi.h>
#include <glib.h>

#include <string>

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

// Addon exports for tests and the TypeScript layer: variantToBytes(typed) → Buffer (normal form),
// variantFromBytes(type, bytes) → typed, variantIsNormal(type, bytes) → boolean,
// variantPrint(typed, annotate?) → GVariant text format (as `ostree show` prints it).
void InitVariant(Napi::Env env, Napi::Object exports);

}  // namespace oc
