// Pure parts of encapsulate(): labels, compression choice, image config/manifest shapes.
import { describe, expect, it } from 'vitest';
import {
  buildImage,
  commitLabels,
  effectiveCompression,
  type BuiltLayer,
  type CommitFields,
} from '../../src/container/encapsulate.js';
import { createdFromSourceDateEpoch, formatTimestamp, historyCreated } from '../../src/container/created.js';
import { ImageReference } from '../../src/ref/image-reference.js';
import { canonicalJson } from '../../src/oci/canonical-json.js';

const COMMIT = '616069c200463abca9c1d3adc65b948f1f1d3ddd42bc2c8ea3308535a0e44c24';
const info = (extra: [string, { type: string; value: unknown }][] = []): CommitFields => ({
  checksum: COMMIT,
  timestamp: 872879442,
  subject: '',
  metadata: new Map([
    ['buildsys.checksum', { type: 's', value: '41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3' }],
    ['ostree.container-cmd', { type: 'as', value: ['/usr/bin/bash'] }],
    ['version', { type: 's', value: '42.0' }],
    ['ostree.bootable', { type: 'b', value: true }],
    ...extra,
  ]),
});

describe('encapsulate labels', () => {
  it('assembles labels in upstream order', () => {
    const labels = commitLabels(info(), { labels: { foo: 'bar', test: 'value' } }, {
      copyMetaKeys: ['buildsys.checksum'],
      copyMetaOptKeys: ['nosuchvalue'],
    });
    expect([...labels]).toEqual([
      ['buildsys.checksum', '41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3'],
      ['ostree.bootable', 'true'],
      ['containers.bootc', '1'],
      ['org.opencontainers.image.version', '42.0'],
      ['ostree.commit', COMMIT],
      ['foo', 'bar'],
      ['test', 'value'],
    ]);
  });

  it('legacy version, ostree.linux, unbootable, overrides', () => {
    const i = info([['ostree.linux', { type: 's', value: '5.10' }]]);
    i.metadata.set('ostree.bootable', { type: 'b', value: false });
    const labels = commitLabels(i, { labels: new Map([['ostree.commit', 'mine']]) }, { legacyVersionLabel: true });
    expect(Object.fromEntries(labels)).toEqual({
      'ostree.bootable': 'false',
      'containers.bootc': '1',
      'ostree.linux': '5.10',
      version: '42.0',
      'org.opencontainers.image.version': '42.0',
      'ostree.commit': 'mine',
    });
    const plain = info();
    plain.metadata.delete('ostree.bootable');
    expect(commitLabels(plain, {}, {}).has('containers.bootc')).toBe(false);
  });

  it('copymeta errors', () => {
    expect(() => commitLabels(info(), {}, { copyMetaKeys: ['nosuch'] })).toThrow('Could not find commit metadata key: nosuch');
    expect(() => commitLabels(info(), {}, { copyMetaKeys: ['ostree.bootable'] })).toThrow('Expected string for commit metadata value');
    expect(() => commitLabels(info(), {}, { copyMetaOptKeys: ['ostree.container-cmd'] })).toThrow('Expected string for commit metadata value');
    // An object path is a string in JavaScript, but not a string variant.
    const path = info([['origin', { type: 'o', value: '/org/example' }]]);
    expect(() => commitLabels(path, {}, { copyMetaKeys: ['origin'] })).toThrow('Expected string for commit metadata value');
  });

  it('copies optional keys that exist; a version that is not a string is no label', () => {
    const i = info([['ostree.linux', { type: 's', value: '6.1' }]]);
    i.metadata.set('version', { type: 'u', value: 42 });
    expect(Object.fromEntries(commitLabels(i, {}, { copyMetaOptKeys: ['buildsys.checksum', 'absent'], legacyVersionLabel: true }))).toEqual({
      'buildsys.checksum': '41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3',
      'ostree.bootable': 'true',
      'containers.bootc': '1',
      'ostree.linux': '6.1',
      'ostree.commit': COMMIT,
    });
  });
});

describe('encapsulate image documents', () => {
  it('formats timestamps', () => {
    expect(formatTimestamp(872879442)).toBe('1997-08-29T18:30:42Z');
  });

  it('chooses compression', () => {
    const oci = ImageReference.parse('oci:/x');
    const cs = ImageReference.parse('containers-storage:localhost/x');
    expect(effectiveCompression({}, oci)).toBe('gzip');
    expect(effectiveCompression({ skipCompression: true }, oci)).toBe('gzip-fast');
    expect(effectiveCompression({}, cs)).toBe('gzip-fast');
    expect(effectiveCompression({ compression: 'zstd' }, cs)).toBe('zstd');
    expect(effectiveCompression({ compression: 'none', skipCompression: true }, oci)).toBe('none');
  });

  const layer = (n: number, createdBy: string, annotations?: Record<string, string>): BuiltLayer => ({
    descriptor: {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: `sha256:${String(n).repeat(64)}`,
      size: 100 + n,
      ...(annotations ? { annotations } : {}),
    },
    diffId: `sha256:${String(n + 1).repeat(64)}`,
    createdBy,
  });

  it('builds config and manifest', () => {
    const labels = commitLabels(info(), {}, {});
    const layers = [layer(1, 'ostree export of commit x'), layer(3, '9 components', { 'ostree.components': 'a,b' }), layer(5, 'Reserved for new packages', { 'ostree.components': '' })];
    const img = buildImage({
      info: info(),
      labels,
      layers,
      config: {},
      opts: { containerConfig: { StopSignal: 'SIGRTMIN+3', Labels: { base: 'yes', 'ostree.commit': 'old' } } },
      created: '1997-08-29T18:30:42Z',
    });
    expect(img.labels['ostree.final-diffid']).toBe(`sha256:${'6'.repeat(64)}`);
    expect(img.config.config).toEqual({
      StopSignal: 'SIGRTMIN+3',
      Cmd: ['/usr/bin/bash'],
      Labels: { base: 'yes', ...img.labels },
    });
    expect(img.config.rootfs).toEqual({ type: 'layers', diff_ids: layers.map((l) => l.diffId) });
    // Every history entry gets the image's time (upstream since 2025), never the clock.
    expect(img.config.history).toEqual(layers.map((l) => ({ created: '1997-08-29T18:30:42Z', created_by: l.createdBy })));
    expect(Object.keys(JSON.parse(canonicalJson(img.config))).sort()).toEqual(['architecture', 'config', 'created', 'history', 'os', 'rootfs']);
    const cfgDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 5 };
    const manifest = img.manifest(cfgDesc);
    expect(canonicalJson(manifest)).toMatch(/^\{"annotations":\{.*\},"config":\{"digest":"sha256:a+","mediaType":"application\/vnd.oci.image.config.v1\+json","size":5\},"layers":\[.*\],"schemaVersion":2\}$/);
    expect(manifest.annotations).toEqual(img.labels);

    const other = buildImage({ info: info(), labels, layers, config: { cmd: ['/bin/sh', '-c'] }, opts: {}, created: '2025-03-10T15:42:57.25+02:00' });
    expect(other.config.config?.Cmd).toEqual(['/bin/sh', '-c']);
    expect(other.config.created).toBe('2025-03-10T15:42:57.25+02:00');
    expect(other.config.history?.map((h) => h.created)).toEqual(Array(3).fill('2025-03-10T13:42:57Z'));
  });

  it('image times: RFC 3339 in, UTC seconds out; SOURCE_DATE_EPOCH', () => {
    expect(historyCreated('1997-08-29T18:30:42Z')).toBe('1997-08-29T18:30:42Z');
    expect(historyCreated('2024-02-29t23:30:00.999-01:15')).toBe('2024-03-01T00:45:00Z');
    expect(historyCreated('2024-01-01 00:00:00+00:30')).toBe('2023-12-31T23:30:00Z');
    for (const bad of ['2023-02-29T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00', '1700000000', '', 'yesterday']) {
      expect(() => historyCreated(bad)).toThrow(`Invalid created time '${bad}': expected RFC 3339, e.g. 2024-01-31T12:00:00Z`);
    }
    expect(createdFromSourceDateEpoch(undefined)).toBeUndefined();
    expect(createdFromSourceDateEpoch('')).toBeUndefined();
    expect(createdFromSourceDateEpoch('0')).toBe('1970-01-01T00:00:00Z');
    expect(createdFromSourceDateEpoch('1700000000')).toBe('2023-11-14T22:13:20Z');
    for (const bad of ['-1', '1.5', ' 1', '1e9', '99999999999999']) {
      expect(() => createdFromSourceDateEpoch(bad)).toThrow(`Invalid SOURCE_DATE_EPOCH '${bad}': expected seconds since 1970-01-01 (up to year 9999)`);
    }
  });
});

describe('image times, edges', () => {
  it('accepts lowercase z and the last second of year 9999; refuses fields out of range and trailing text', () => {
    expect(historyCreated('2024-01-31T12:00:00z')).toBe('2024-01-31T12:00:00Z');
    expect(historyCreated('2024-12-31T23:59:59+00:00')).toBe('2024-12-31T23:59:59Z');
    for (const bad of ['2024-01-01T00:60:00Z', '2024-01-01T00:00:60Z', '2024-13-01T00:00:00Z', '2024-01-00T00:00:00Z', '2024-01-01T00:00:00Zx', 'x2024-01-01T00:00:00Z', '2024-01-01T00:00:00+0100']) {
      expect(() => historyCreated(bad), bad).toThrow(`Invalid created time '${bad}'`);
    }
    expect(createdFromSourceDateEpoch('253402300799')).toBe('9999-12-31T23:59:59Z');
    for (const bad of ['253402300800', '1 ', 'x1']) expect(() => createdFromSourceDateEpoch(bad), bad).toThrow(`Invalid SOURCE_DATE_EPOCH '${bad}'`);
    expect(formatTimestamp(1.5)).toBe('1970-01-01T00:00:01Z');
  });
});

describe('manifest layout', async () => {
  const { parseManifestLayout, parseOstreeManifestLayout } = await import('../../src/container/manifest-layout.js');
  const d = (n: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${String(n).repeat(64)}`, size: n });
  const diff = (n: number) => `sha256:${String(n).repeat(64)}`;
  const cfgDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: diff(9), size: 1 };
  const image = (n: number, label?: string) => ({
    manifest: { schemaVersion: 2 as const, config: cfgDesc, layers: Array.from({ length: n }, (_, i) => d(i + 1)) },
    config: {
      architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: Array.from({ length: n }, (_, i) => diff(i + 1)) },
      config: label === undefined ? {} : { Labels: { 'ostree.final-diffid': label } },
    },
  });
  it('splits commit, chunk and derived layers', () => {
    const { manifest, config } = image(5, diff(3));
    expect(parseManifestLayout(manifest, config)).toEqual({ commitLayer: d(1), chunkLayers: [d(2), d(3)], derivedLayers: [d(4), d(5)] });
    const one = image(1, diff(1));
    expect(parseManifestLayout(one.manifest, one.config)).toEqual({ commitLayer: d(1), chunkLayers: [], derivedLayers: [] });
    const none = image(2);
    expect(parseManifestLayout(none.manifest, none.config)).toEqual({ chunkLayers: [], derivedLayers: [d(1), d(2)] });
  });
  it('errors', () => {
    const empty = image(0, diff(1));
    expect(() => parseManifestLayout(empty.manifest, empty.config)).toThrow('Parsing manifest layout: No layers in manifest');
    const missing = image(2, diff(7));
    expect(() => parseManifestLayout(missing.manifest, missing.config)).toThrow(`Missing ostree.final-diffid ${diff(7)}`);
    const short = image(2, diff(3));
    short.config.rootfs.diff_ids.push(diff(3));
    expect(() => parseManifestLayout(short.manifest, short.config)).toThrow('diffid position 2 exceeds layer count 2');
    const dup = image(3, diff(2));
    dup.manifest.layers[2] = d(2);
    expect(() => parseManifestLayout(dup.manifest, dup.config)).toThrow(`Multiple entries for ${d(2).digest}`);
    const none = image(2);
    expect(() => parseOstreeManifestLayout(none.manifest, none.config)).toThrow('No ostree.final-diffid label found, not an ostree encapsulated container');
  });
  it('without a config section every layer is derived; an ostree image gives all three parts', () => {
    const bare = image(2);
    const { config: _c, ...noConfig } = bare.config;
    expect(parseManifestLayout(bare.manifest, noConfig)).toEqual({ chunkLayers: [], derivedLayers: [d(1), d(2)] });
    const { manifest, config } = image(3, diff(2));
    expect(parseOstreeManifestLayout(manifest, config)).toEqual({ commitLayer: d(1), chunkLayers: [d(2)], derivedLayers: [d(3)] });
    // A descriptor equal in value (another object, annotations in another order) is the same layer.
    const same = image(3, diff(2));
    same.manifest.layers[1] = { ...d(2), annotations: { b: '2', a: '1' } } as ReturnType<typeof d>;
    same.manifest.layers[2] = { ...d(2), annotations: { a: '1', b: '2' } } as ReturnType<typeof d>;
    expect(() => parseManifestLayout(same.manifest, same.config)).toThrow(`Multiple entries for ${d(2).digest}`);
  });
});
