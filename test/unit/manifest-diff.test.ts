import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import {
  ManifestDiff,
  labelsOf,
  parseImageManifest,
  versionForConfig,
  type Descriptor,
  type ImageConfiguration,
  type ImageManifest,
} from '../../src/index.js';

const fixture = (name: string) => {
  const file = new URL(`../fixtures/${name}`, import.meta.url);
  return parseImageManifest(readFileSync(file), name);
};

describe('ManifestDiff (spec references §4)', () => {
  const m1 = fixture('manifest1.json');
  const m2 = fixture('manifest2.json');
  const diff = new ManifestDiff(m1, m2);

  it('matches the upstream test', () => {
    expect(diff.from).toBe(m1);
    expect(diff.to).toBe(m2);
    expect(diff.added).toHaveLength(4);
    expect(diff.added[0].digest).toBe('sha256:0b5d930ffc92d444b0a7b39beed322945a3038603fbe2a56415a6d02d598df1f');
    expect(diff.added[3].digest).toBe('sha256:cb9b8a4ac4a8df62df79e6f0348a14b3ec239816d42985631c88e76d4e3ff815');
    expect(diff.removed).toHaveLength(4);
    expect(diff.removed[0].digest).toBe('sha256:0ff8b1fdd38e5cfb6390024de23ba4b947cd872055f62e70f2c21dad5c928925');
    expect(diff.removed[3].digest).toBe('sha256:76b83eea62b7b93200a056b5e0201ef486c67f1eeebcf2c7678ced4d614cece2');
  });

  it('has the full figures', () => {
    const brief = (ds: readonly Descriptor[]) => ds.map((d) => [d.digest.slice(7, 15), d.size]);
    expect(brief(diff.removed)).toEqual([['0ff8b1fd', 77161948], ['40493ecd', 69953187], ['75f4abe8', 1387849], ['76b83eea', 21970157]]);
    expect(brief(diff.added)).toEqual([['0b5d930f', 77162517], ['8d12d20c', 21970100], ['bca674ff', 1387854], ['cb9b8a4a', 69952385]]);
    expect(diff.removed[1].digest).toBe('sha256:40493ecd0f9ab499a2bec715415c3a98774ea6d1c9c01eb30a6b56793204a02d');
    expect(diff.added[2].digest).toBe('sha256:bca674ffe2ebe92b9e952bc807b9f1cd0d559c057e95ac81f3bae12a9b96b53e');
    expect(JSON.stringify(diff)).toBe(
      '{"total":51,"total_size":697035490,"n_removed":4,"removed_size":170473141,"n_added":4,"added_size":170472856}',
    );
  });

  it('prints the three lines with GLib sizes (no-break space before the unit)', () => {
    const expected =
      'Total new layers: 51    Size: 697.0\u00a0MB\n' +
      'Removed layers:   4     Size: 170.5\u00a0MB\n' +
      'Added layers:     4     Size: 170.5\u00a0MB\n';
    expect(diff.format()).toBe(expected);
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      diff.print();
      expect(write.mock.calls.map((c) => c[0]).join('')).toBe(expected);
    } finally {
      write.mockRestore();
    }
  });

  it('reverse diff swaps removed and added', () => {
    const rev = new ManifestDiff(m2, m1);
    expect(rev.toJSON()).toEqual({ total: 51, total_size: 697035775, n_removed: 4, removed_size: 170472856, n_added: 4, added_size: 170473141 });
    expect(rev.removed).toEqual(diff.added);
    expect(rev.added).toEqual(diff.removed);
  });

  it('collapses duplicate layers for counting but sums every size', () => {
    const layer = (hex: string, size: number): Descriptor => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${hex.repeat(64)}`, size });
    const mk = (layers: Descriptor[]): ImageManifest => ({ schemaVersion: 2, config: layer('c', 1), layers });
    const d = new ManifestDiff(mk([layer('a', 10)]), mk([layer('b', 5), layer('b', 5), layer('a', 10)]));
    expect(d.toJSON()).toEqual({ total: 2, total_size: 20, n_removed: 0, removed_size: 0, n_added: 1, added_size: 5 });
    expect(d.format().split('\n')[0]).toBe('Total new layers: 2     Size: 20 bytes');
  });

  it('sorts by the encoded part of the digest, whatever the algorithm', () => {
    const layer = (digest: string): Descriptor => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 1 });
    const a = layer(`sha256:${'a'.repeat(64)}`);
    const b = layer(`sha512:${'b'.repeat(128)}`);
    const c = layer(`sha256:${'c'.repeat(64)}`);
    const mk = (layers: Descriptor[]): ImageManifest => ({ schemaVersion: 2, config: layer(`sha256:${'f'.repeat(64)}`), layers });
    // Not the order of the whole digests (sha256 first), nor the manifest's.
    expect(new ManifestDiff(mk([c, b, a]), mk([])).removed).toEqual([a, b, c]);
    expect(new ManifestDiff(mk([]), mk([c, b, a])).added).toEqual([a, b, c]);
  });
});

describe('versionForConfig / labelsOf', () => {
  const cfg = (Labels?: Record<string, string> | null): ImageConfiguration =>
    ({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: Labels === undefined ? undefined : { Labels } }) as ImageConfiguration;

  it('prefers the OCI label, then version, verbatim', () => {
    expect(versionForConfig(cfg({ 'org.opencontainers.image.version': '42.0', version: '1' }))).toBe('42.0');
    expect(versionForConfig(cfg({ version: '1' }))).toBe('1');
    expect(versionForConfig(cfg({ 'org.opencontainers.image.version': '' , version: '1' }))).toBe('');
    expect(versionForConfig(cfg({ other: 'x' }))).toBeUndefined();
    expect(versionForConfig(cfg())).toBeUndefined();
    expect(versionForConfig(cfg(null))).toBeUndefined();
  });

  it('labelsOf', () => {
    expect(labelsOf(cfg({ a: 'b' }))).toEqual({ a: 'b' });
    expect(labelsOf(cfg())).toBeUndefined();
    expect(labelsOf(cfg(null))).toBeUndefined();
  });
});
