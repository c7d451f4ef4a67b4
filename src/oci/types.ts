// Typed OCI image-spec documents, and parsers that validate untrusted JSON into them.
// Parsers check what we rely on (types, digests, sizes, media types) and name the offending
// field and source; unknown fields are kept as they are.
import { parseDigest } from './digest.js';
import { MediaType } from './media-types.js';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The runtime part (`config`) of an image configuration; keys are PascalCase as on the wire. */
export interface RuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
}

export interface RootFs {
  type: string;
  diff_ids: string[];
}

export interface History {
  created?: string;
  author?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfiguration {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: RuntimeConfig;
  rootfs: RootFs;
  history?: History[];
}

/** Media types accepted for a single-image manifest (skopeo may hand us Docker schema 2). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaType.ImageManifest, MediaType.DockerManifest];
/** Media types accepted for a manifest list / image index. */
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.ImageIndex, MediaType.DockerManifestList];
/** Media types accepted for an image configuration. */
export const CONFIG_MEDIA_TYPES: readonly string[] = [MediaType.ImageConfig, MediaType.DockerConfig];

type Json = unknown;

class Invalid extends Error {}

function at(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

function object(v: Json, path: string): Record<string, Json> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(`${path || 'document'}: expected an object`);
  return v as Record<string, Json>;
}

function string(v: Json, path: string): string {
  if (typeof v !== 'string') throw new Invalid(`${path}: expected a string`);
  return v;
}

function optional<T>(o: Record<string, Json>, key: string, path: string, check: (v: Json, p: string) => T): void {
  if (o[key] !== undefined) check(o[key], at(path, key));
}

function array<T>(v: Json, path: string, check: (v: Json, p: string) => T): T[] {
  if (!Array.isArray(v)) throw new Invalid(`${path}: expected an array`);
  return v.map((e, i) => check(e, at(path, i)));
}

function stringMap(v: Json, path: string): Record<string, string> {
  const o = object(v, path);
  for (const [k, e] of Object.entries(o)) string(e, at(path, k));
  return o as Record<string, string>;
}

function digest(v: Json, path: string): string {
  const s = string(v, path);
  try {
    parseDigest(s);
  } catch (e) {
    throw new Invalid(`${path}: ${(e as Error).message}`);
  }
  return s;
}

function size(v: Json, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Invalid(`${path}: expected a non-negative integer size`);
  return v;
}

function mediaType(v: Json, path: string, allowed: readonly string[]): void {
  const s = string(v, path);
  if (!allowed.includes(s)) throw new Invalid(`${path}: unexpected media type ${JSON.stringify(s)} (expected ${allowed.join(' or ')})`);
}

function schemaVersion(o: Record<string, Json>): void {
  if (o.schemaVersion !== 2) throw new Invalid(`schemaVersion: expected 2, got ${JSON.stringify(o.schemaVersion)}`);
}

function checkPlatform(v: Json, path: string): Platform {
  const o = object(v, path);
  string(o.architecture, at(path, 'architecture'));
  string(o.os, at(path, 'os'));
  optional(o, 'variant', path, string);
  return o as unknown as Platform;
}

function checkDescriptor(v: Json, path: string): Descriptor {
  const o = object(v, path);
  string(o.mediaType, at(path, 'mediaType'));
  digest(o.digest, at(path, 'digest'));
  size(o.size, at(path, 'size'));
  optional(o, 'annotations', path, stringMap);
  optional(o, 'platform', path, checkPlatform);
  optional(o, 'urls', path, (u, p) => array(u, p, string));
  return o as unknown as Descriptor;
}

/** Parses JSON text or bytes; `what` and `source` name the document in errors. */
function parseWith<T>(input: string | Uint8Array, what: string, source: string, check: (o: Record<string, Json>) => void): T {
  const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  let v: Json;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`Invalid ${what} ${source}: malformed JSON: ${(e as Error).message}`);
  }
  try {
    check(object(v, ''));
  } catch (e) {
    if (e instanceof Invalid) throw new Error(`Invalid ${what} ${source}: ${e.message}`);
    throw e;
  }
  return v as T;
}

/** Validates a single-image manifest (OCI, or Docker schema 2 which has the same shape). */
export function parseImageManifest(input: string | Uint8Array, source: string): ImageManifest {
  return parseWith(input, 'image manifest', source, (o) => {
    schemaVersion(o);
    optional(o, 'mediaType', '', (v, p) => mediaType(v, p, MANIFEST_MEDIA_TYPES));
    checkDescriptor(o.config, 'config');
    mediaType((o.config as Descriptor).mediaType, 'config.mediaType', CONFIG_MEDIA_TYPES);
    array(o.layers, 'layers', checkDescriptor);
    optional(o, 'annotations', '', stringMap);
    optional(o, 'subject', '', checkDescriptor);
  });
}

/** Validates an image index (`index.json` of a layout, or a manifest list). */
export function parseImageIndex(input: string | Uint8Array, source: string): ImageIndex {
  return parseWith(input, 'image index', source, (o) => {
    schemaVersion(o);
    optional(o, 'mediaType', '', (v, p) => mediaType(v, p, INDEX_MEDIA_TYPES));
    array(o.manifests, 'manifests', checkDescriptor);
    optional(o, 'annotations', '', stringMap);
  });
}

/** Validates an image configuration. */
export function parseImageConfiguration(input: string | Uint8Array, source: string): ImageConfiguration {
  return parseWith(input, 'image configuration', source, (o) => {
    string(o.architecture, 'architecture');
    string(o.os, 'os');
    optional(o, 'created', '', string);
    optional(o, 'config', '', (c, p) => {
      const rc = object(c, p);
      optional(rc, 'Labels', p, (l, lp) => (l === null ? l : stringMap(l, lp)));
      for (const k of ['Env', 'Entrypoint', 'Cmd'] as const) optional(rc, k, p, (a, ap) => (a === null ? a : array(a, ap, string)));
    });
    const rootfs = object(o.rootfs, 'rootfs');
    string(rootfs.type, 'rootfs.type');
    array(rootfs.diff_ids, 'rootfs.diff_ids', digest);
    optional(o, 'history', '', (h, p) => array(h, p, object));
  });
}
