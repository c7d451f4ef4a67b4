// GVariant values in JavaScript with their type kept, so metadata round-trips byte for byte.
//
// Mapping of the plain value (`TypedVariant.value`) by GVariant type:
//   b → boolean; y n q i u h d → number; x t → bigint (a safe-integer number is accepted on input);
//   s o g → string; ay → Buffer (any Uint8Array on input); v → TypedVariant; m* → null | value;
//   a{KV} → Map in serialized order (a plain object is accepted for a{sV} on input);
//   other arrays and tuples → Array; a lone dict entry {KV} → [key, value].
// Nested maybes (mm*) cannot tell Nothing from Just Nothing: both read as null.
import { native } from '../native.js';

export type VariantValue =
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | null
  | TypedVariant
  | VariantValue[]
  | Map<VariantValue, VariantValue>;

export interface TypedVariant {
  /** GVariant type string, e.g. `s`, `as`, `a{sv}`. */
  type: string;
  value: VariantValue;
}

/** An `a{sv}` dictionary (commit metadata, detached metadata) in serialized order. */
export type VariantDict = Map<string, TypedVariant>;

/** An extended attribute as libostree stores it: name bytes (with trailing NUL) and value bytes. */
export type Xattr = [name: Uint8Array, value: Uint8Array];

interface NativeVariant {
  variantToBytes(v: TypedVariant): Buffer;
  variantFromBytes(type: string, bytes: Uint8Array): TypedVariant;
  variantIsNormal(type: string, bytes: Uint8Array): boolean;
  variantPrint(v: TypedVariant, annotate: boolean): string;
}

/** `{ type, value }`, for building metadata: `variant('s', '42.0')`. */
export function variant(type: string, value: VariantValue): TypedVariant {
  return { type, value };
}

/** The serialized (normal form) bytes of a typed value. */
export function variantToBytes(v: TypedVariant): Buffer {
  return native<NativeVariant>().variantToBytes(v);
}

/** Reads serialized bytes as `type` (untrusted: invalid data reads as default values). */
export function variantFromBytes(type: string, bytes: Uint8Array): TypedVariant {
  return native<NativeVariant>().variantFromBytes(type, bytes);
}

/** Whether `bytes` are the normal form of a `type` value. */
export function variantIsNormal(type: string, bytes: Uint8Array): boolean {
  return native<NativeVariant>().variantIsNormal(type, bytes);
}

/** GVariant text format (`g_variant_print`), as `ostree show` prints metadata values. */
export function variantPrint(v: TypedVariant, annotate = false): string {
  return native<NativeVariant>().variantPrint(v, annotate);
}

/** Xattr name bytes as libostree stores them: UTF-8 with a trailing NUL. */
export function xattrName(name: string): Buffer {
  return Buffer.from(`${name}\0`, 'utf8');
}
