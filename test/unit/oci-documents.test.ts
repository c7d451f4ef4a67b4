import { describe, expect, it } from 'vitest';
import {
  MediaType,
  digestOf,
  hostOciArch,
  ociArchFromNode,
  parseDigest,
  parseImageConfiguration,
  parseImageIndex,
  parseImageManifest,
} from '../../src/index.js';
import { canonicalJson } from '../../src/oci/canonical-json.js';

const HEX = 'a'.repeat(64);

describe('digests', () => {
  it('parses sha256 and sha512', () => {
    expect(parseDigest(`sha256:${HEX}`)).toEqual({ algorithm: 'sha256', encoded: HEX });
    expect(parseDigest(`sha512:${'0'.repeat(128)}`)).toEqual({ algorithm: 'sha512', encoded: '0'.repeat(128) });
    expect(digestOf('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it.each([
    ['nocolon', 'Invalid digest "nocolon": expected <algorithm>:<hex>'],
    [`:${HEX}`, `Invalid digest ":${HEX}": expected <algorithm>:<hex>`],
    ['sha256:', 'Invalid digest "sha256:": expected <algorithm>:<hex>'],
    [`SHA256:${HEX}`, `Invalid digest "SHA256:${HEX}": expected <algorithm>:<hex>`],
    [`md5:${'a'.repeat(32)}`, `Unsupported digest algorithm "md5" in "md5:${'a'.repeat(32)}"`],
    [`sha256+b64:${HEX}`, `Unsupported digest algorithm "sha256+b64" in "sha256+b64:${HEX}"`],
    [`sha256:${'a'.repeat(63)}`, `Invalid sha256 digest "sha256:${'a'.repeat(63)}": expected 64 lowercase hex characters`],
    [`sha256:${'a'.repeat(65)}`, `Invalid sha256 digest "sha256:${'a'.repeat(65)}": expected 64 lowercase hex characters`],
    [`sha256:${'A'.repeat(64)}`, `Invalid sha256 digest "sha256:${'A'.repeat(64)}": expected 64 lowercase hex characters`],
    [`sha256:${'g'.repeat(64)}`, `Invalid sha256 digest "sha256:${'g'.repeat(64)}": expected 64 lowercase hex characters`],
    [`sha512:${HEX}`, `Invalid sha512 digest "sha512:${HEX}": expected 128 lowercase hex characters`],
  ])('rejects %j', (d, message) => {
    expect(() => parseDigest(d)).toThrow(new Error(message));
  });
});

describe('canonical JSON', () => {
  it('sorts keys bytewise, no whitespace, omits undefined', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, B: { z: 1, y: 2 } })).toBe('{"B":{"y":2,"z":1},"a":[true,null,"x"],"b":1}');
  });
  it('sorts by UTF-8 bytes, not UTF-16 units', () => {
    // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16.
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF21': 2 })).toBe('{"\uFF21":2,"\u{1F600}":1}');
  });
  it('escapes only what JSON requires and writes non-ASCII raw', () => {
    expect(canonicalJson('a"b\\c\u00e9\n')).toBe('"a\\"b\\\\c\u00e9\\n"');
  });
  it('allows only integers', () => {
    expect(() => canonicalJson({ x: 1.5 })).toThrow('Canonical JSON allows only integers, got 1.5');
  });
});

describe('platform', () => {
  it('maps Node arches to OCI names', () => {
    expect(ociArchFromNode('x64')).toBe('amd64');
    expect(ociArchFromNode('arm64')).toBe('arm64');
    expect(ociArchFromNode('ppc64', 'LE')).toBe('ppc64le');
    expect(ociArchFromNode('ppc64', 'BE')).toBe('ppc64');
    expect(ociArchFromNode('s390x')).toBe('s390x');
    expect(ociArchFromNode('riscv64')).toBe('riscv64');
    expect(ociArchFromNode('ia32')).toBe('386');
    expect(ociArchFromNode('mipsel')).toBe('mipsle');
    expect(hostOciArch()).toBe(process.arch === 'x64' ? 'amd64' : ociArchFromNode(process.arch));
  });
});

describe('document validation', () => {
  const desc = (over: object = {}) => ({ mediaType: MediaType.ImageLayerGzip, digest: `sha256:${HEX}`, size: 3, ...over });
  const manifest = (over: object = {}) =>
    JSON.stringify({ schemaVersion: 2, config: desc({ mediaType: MediaType.ImageConfig }), layers: [desc()], ...over });

  it('accepts a valid manifest, index and config', () => {
    expect(parseImageManifest(manifest(), 'm').layers).toHaveLength(1);
    expect(parseImageManifest(manifest({ mediaType: MediaType.DockerManifest }), 'm').schemaVersion).toBe(2);
    expect(parseImageIndex(JSON.stringify({ schemaVersion: 2, manifests: [desc({ mediaType: MediaType.ImageManifest })] }), 'i').manifests).toHaveLength(1);
    const cfg = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${HEX}`] }, config: { Labels: null, Cmd: ['/bin/sh'] } };
    expect(parseImageConfiguration(Buffer.from(JSON.stringify(cfg)), 'c').os).toBe('linux');
  });

  it.each([
    ['{', /^Invalid image manifest src\.json: malformed JSON: /],
    ['[]', /^Invalid image manifest src\.json: document: expected an object$/],
    [manifest({ schemaVersion: 1 }), /^Invalid image manifest src\.json: schemaVersion: expected 2, got 1$/],
    [manifest({ mediaType: MediaType.ImageIndex }), /^Invalid image manifest src\.json: mediaType: unexpected media type "application\/vnd\.oci\.image\.index\.v1\+json"/],
    [manifest({ config: desc() }), /^Invalid image manifest src\.json: config\.mediaType: unexpected media type "application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip"/],
    [manifest({ layers: [desc(), desc({ digest: 'md5:abc' })] }), /^Invalid image manifest src\.json: layers\[1\]\.digest: Unsupported digest algorithm "md5"/],
    [manifest({ layers: [desc({ digest: 'sha256:abc' })] }), /^Invalid image manifest src\.json: layers\[0\]\.digest: Invalid sha256 digest "sha256:abc": expected 64/],
    [manifest({ layers: [desc({ size: -1 })] }), /^Invalid image manifest src\.json: layers\[0\]\.size: expected a non-negative integer size$/],
    [manifest({ layers: [desc({ size: '3' })] }), /layers\[0\]\.size: expected a non-negative integer size$/],
    [manifest({ layers: {} }), /^Invalid image manifest src\.json: layers: expected an array$/],
    [manifest({ annotations: { a: 1 } }), /^Invalid image manifest src\.json: annotations\.a: expected a string$/],
  ])('rejects bad manifest %#', (input, message) => {
    expect(() => parseImageManifest(input, 'src.json')).toThrow(message);
  });

  it('rejects a bad index and config, naming the source', () => {
    expect(() => parseImageIndex('{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:1","size":1}]}', '/d/index.json')).toThrow(
      /^Invalid image index \/d\/index\.json: manifests\[0\]\.digest: Invalid sha256 digest/,
    );
    expect(() => parseImageIndex('{"schemaVersion":2,"mediaType":"text/plain","manifests":[]}', 'i')).toThrow(/mediaType: unexpected media type "text\/plain"/);
    expect(() => parseImageConfiguration('{"architecture":"amd64","os":"linux"}', 'c')).toThrow('Invalid image configuration c: rootfs: expected an object');
    expect(() => parseImageConfiguration('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["x"]}}', 'c')).toThrow(
      'Invalid image configuration c: rootfs.diff_ids[0]: Invalid digest "x": expected <algorithm>:<hex>',
    );
  });
});
