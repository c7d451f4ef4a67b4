import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  basicPacking,
  Chunk,
  Chunking,
  chunkName,
  componentsAnnotation,
  contentMetaToSized,
  MAX_FREQUENCY,
  packChunks,
  parseObjectSourceMetaSized,
  parseContentMetaFile,
  partitionComponents,
  planFromBins,
  sizeObjectMeta,
  type ObjectSourceMetaSized,
  type PriorBuildManifest,
} from '../../src/container/chunking.js';

// Upstream's FCOS content metadata, copied into test/fixtures (see its README).
const FCOS = fileURLToPath(new URL('../fixtures/fedora-coreos-contentmeta.json.gz', import.meta.url));

function fcos(): ObjectSourceMetaSized[] {
  const raw = JSON.parse(gunzipSync(readFileSync(FCOS)).toString('utf8')) as unknown[];
  return raw.map(parseObjectSourceMetaSized);
}

function pkg(identifier: string, change_frequency: number, size: number): ObjectSourceMetaSized {
  return { identifier, name: identifier.replace(/\.\d+$/, ''), srcid: identifier, change_time_offset: 0, change_frequency, size };
}

const ids = (bins: ObjectSourceMetaSized[][]) => bins.map((b) => b.map((c) => c.identifier));

/** A prior manifest whose chunk layers list the bins' names in bin order (as upstream's test builds it). */
function priorOf(bins: ObjectSourceMetaSized[][]): PriorBuildManifest {
  return {
    layers: [
      { annotations: { 'ostree.components': 'ostree_commit' } },
      ...bins.map((b) => ({ annotations: { 'ostree.components': b.map((c) => c.name).join(',') } })),
    ],
  };
}

const ADVANCED = [
  pkg('pkg1.0', MAX_FREQUENCY, 100000),
  pkg('pkg2.0', MAX_FREQUENCY, 99999),
  pkg('pkg3.0', 30, 99998),
  pkg('pkg4.0', 100, 99997),
  pkg('pkg10.0', 51, 1000),
  pkg('pkg8.0', 50, 500),
  pkg('pkg9.0', 1, 200),
  pkg('pkg11.0', 100000, 199),
  pkg('pkg6.0', 30, 2),
  pkg('pkg7.0', 30, 1),
];

describe('basicPacking', () => {
  it('test_packing_basics: empty input gives no bins', () => {
    expect(basicPacking([], 4)).toEqual([]);
    expect(basicPacking([], 7)).toEqual([]);
  });

  it('test_packing_one_layer: binSize below 4 is an error', () => {
    expect(() => basicPacking(fcos(), 1)).toThrow('Condition failed: `bin_size.get() >= MIN_CHUNKED_LAYERS`');
    expect(() => basicPacking([], 3, priorOf([]))).toThrow('MIN_CHUNKED_LAYERS');
  });

  it('fewer components than bins: one bin each plus an empty one', () => {
    const c = ADVANCED.slice(0, 3);
    expect(ids(basicPacking(c, 4))).toEqual([['pkg1.0'], ['pkg2.0'], ['pkg3.0'], []]);
  });

  it('test_advanced_packing', () => {
    const partitions = partitionComponents(ADVANCED.filter((c) => c.change_frequency !== MAX_FREQUENCY), 1);
    expect(partitions.map(([k, v]) => [k, v.map((c) => c.identifier)])).toEqual([
      ['1hs', ['pkg3.0']],
      ['2ls', ['pkg6.0', 'pkg7.0']],
      ['4mf_ls', ['pkg11.0']],
      ['5lf_ls', ['pkg9.0', 'pkg8.0', 'pkg10.0']],
      ['5lf_ms', ['pkg4.0']],
    ]);
    const bins = basicPacking(ADVANCED, 6);
    expect(ids(bins)).toEqual([
      ['pkg3.0'],
      ['pkg4.0'],
      ['pkg6.0', 'pkg7.0', 'pkg11.0'],
      ['pkg9.0', 'pkg8.0', 'pkg10.0'],
      ['pkg1.0', 'pkg2.0'],
      [],
    ]);
  });

  it('prior build v1 and v2 keep the layout', () => {
    const v0 = basicPacking(ADVANCED, 6);
    const v1Input = ADVANCED.filter((c) => c.identifier !== 'pkg7.0').map((c) => (c.identifier === 'pkg1.0' ? pkg('pkg1.1', MAX_FREQUENCY, 100000) : c));
    v1Input.push(pkg('pkg5.0', 42, 100000));
    const v1 = basicPacking(v1Input, 6, priorOf(v0));
    expect(ids(v1)).toEqual([
      ['pkg3.0'],
      ['pkg4.0'],
      ['pkg6.0', 'pkg11.0'],
      ['pkg9.0', 'pkg8.0', 'pkg10.0'],
      ['pkg1.1', 'pkg2.0'],
      ['pkg5.0'],
    ]);
    const v2Input = v1Input.map((c) => (c.identifier === 'pkg5.0' ? pkg('pkg5.1', 42, 100000) : c));
    v2Input.push(pkg('pkg12.0', 42, 100000));
    const v2 = basicPacking(v2Input, 6, priorOf(v1));
    expect(ids(v2)).toEqual([
      ['pkg3.0'],
      ['pkg4.0'],
      ['pkg6.0', 'pkg11.0'],
      ['pkg9.0', 'pkg8.0', 'pkg10.0'],
      ['pkg1.1', 'pkg2.0'],
      ['pkg5.1', 'pkg12.0'],
    ]);
  });

  it('prior build errors', () => {
    expect(() => basicPacking(ADVANCED, 6, { layers: [{}, {}] })).toThrow('Missing ostree.components on prior build');
    expect(() => basicPacking(ADVANCED, 6, { layers: [{}] })).toThrow('No empty last bin for added packages');
    const tooMany = priorOf(ADVANCED.map((c) => [c]));
    expect(() => basicPacking(ADVANCED, 6, tooMany)).toThrow('Packing produced 10 bins, more than 6');
    // A name in two layers of the previous build, or two components of one name: the count differs.
    const twice = { layers: [{}, { annotations: { 'ostree.components': 'pkg6,pkg7' } }, { annotations: { 'ostree.components': 'pkg6' } }] };
    expect(() => basicPacking([pkg('pkg6.0', 1, 2), pkg('pkg7.0', 1, 1)], 4, twice)).toThrow(new Error('Packing lost components: 3 packed, 2 provided'));
    const once = { layers: [{}, { annotations: { 'ostree.components': 'pkg6' } }, { annotations: { 'ostree.components': '' } }] };
    expect(() => basicPacking([pkg('pkg6.0', 1, 2), pkg('pkg6.1', 1, 1)], 4, once)).toThrow(new Error('Packing lost components: 1 packed, 2 provided'));
  });

  // Budget 10 with `n` max-frequency components: limitHs 4, limitMs 3.
  const maxFreqPkgs = (n: number) => Array.from({ length: n }, (_, i) => pkg(`mf${i}.0`, MAX_FREQUENCY, 1000000 - i));

  it('where upstream panics or underflows, packing is an error', () => {
    // all-equal sizes: every component is high-size and within limitHs → no medium list
    expect(() => basicPacking([...maxFreqPkgs(8), pkg('a.0', 1, 100), pkg('b.0', 1, 100)], 10)).toThrow(
      'Cannot partition components: no medium-size components',
    );
    // 4 components, 4 high-size slots and 2 low-size ones: upstream's usize subtraction underflows
    const sizes = [100, 50, 10, 0].map((s, i) => pkg(`p${i}.0`, 1, s));
    expect(() => basicPacking([...maxFreqPkgs(6), ...sizes], 10)).toThrow('Cannot pack 4 components into 10 bins (4 high-size, 2 low-size)');
  });

  it('drops the empty bin upstream emits when a partition gets 0 components per bin', () => {
    // 7 components, 1 low-size, none high: (7 - 4 - 1) div 3 = 0 components per medium bin
    const rest = [1000, 900, 800, 700, 300, 200, 0].map((s, i) => pkg(`p${i}.0`, i + 1, s));
    const bins = basicPacking([...maxFreqPkgs(3), ...rest], 10);
    expect(ids(bins)).toEqual([
      ['p6.0'],
      ['p0.0'],
      ['p1.0'],
      ['p2.0'],
      ['p3.0'],
      ['p4.0'],
      ['p5.0'],
      ['mf0.0', 'mf1.0', 'mf2.0'],
      [],
    ]);
    // only the final "new packages" bin is empty, so no chunk layer shares its diff_id
    expect(bins.slice(0, -1).every((b) => b.length > 0)).toBe(true);
  });

  // Each case below is one where a statistic off by a little moves a component to another partition.
  const parts = (cs: [string, number, number][], limitHs: number) =>
    partitionComponents(cs.map(([id, f, size]) => pkg(id, f, size)), limitHs).map(([k, v]) => [k, v.map((c) => c.identifier)]);

  it('partitions by the median of an odd count, thresholds reached exactly, and exact deviations of large sizes', () => {
    // median 5 (the middle one), MAD 3: 9 is below 5 + 2 × 3 and stays medium
    expect(parts([['c1', 12, 9], ['c2', 0, 5], ['c0', 12, 2]], 2)).toEqual([['1hs', []], ['4mf_ms', ['c1', 'c0']], ['5lf_ms', ['c2']]]);
    // components not in size order: the median is the sorted sizes' (8, not 3, the middle one given)
    expect(parts([['c0', 3, 12], ['c1', 2, 3], ['c2', 3, 8]], 0)).toEqual([['1hs', []], ['4mf_ms', ['c1', 'c0', 'c2']]]);
    // sizes reaching the high and low thresholds exactly, and frequencies reaching theirs
    expect(parts([['c1', 4, 9], ['c2', 11, 9], ['c0', 7, 2]], 1)).toEqual([['1hs', ['c1']], ['2ls', ['c0']], ['3hf_hs', ['c2']]]);
    expect(parts([['c3', 9, 9], ['c0', 7, 3], ['c1', 6, 3], ['c2', 9, 1]], 0)).toEqual([['1hs', []], ['4mf_ls', ['c2']], ['4mf_ms', ['c1', 'c0', 'c3']]]);
    expect(parts([['c0', 6, 7], ['c1', 1, 1]], 1)).toEqual([['1hs', []], ['2ls', ['c1']], ['3hf_hs', ['c0']]]);
    expect(parts([['c1', 7, 8], ['c0', 1, 6]], 0)).toEqual([['1hs', []], ['4mf_ms', ['c1']], ['5lf_ms', ['c0']]]);
    // Sizes of a GB apart by bytes: the deviation from the mean, squared, not x² − mean²
    // (which cancels to rounding noise there).
    const G = 1_000_000_000;
    expect(parts([['c0', 5, G + 6], ['c1', 4, G + 2], ['c2', 9, G + 2], ['c3', 8, G + 2], ['c4', 12, G + 2]], 0)).toEqual([
      ['1hs', []], ['4mf_hs', ['c0']], ['4mf_ms', ['c1', 'c3', 'c2', 'c4']],
    ]);
    expect(parts([['c0', 7, G + 4], ['c2', 5, G + 2], ['c1', 1, G + 1], ['c3', 2, G + 1], ['c4', 11, G]], 0)).toEqual([
      ['1hs', []], ['4mf_ms', ['c3', 'c2', 'c0', 'c4']], ['5lf_ms', ['c1']],
    ]);
  });

  it('packs when the high-size budget takes every medium component, and folds medium bins only', () => {
    const comps = (cs: [string, number, number][]) => cs.map(([id, f, size]) => pkg(id, f, size));
    // budget 5: 1 high-size slot, 1 low; the one medium component goes into the high slot's count
    expect(ids(basicPacking(comps([['c1', 9, 13], ['c2', MAX_FREQUENCY, 13], ['c0', MAX_FREQUENCY, 11], ['c3', MAX_FREQUENCY, 9], ['c4', 6, 1]]), 5))).toEqual([
      ['c4'], ['c1'], ['c2', 'c0', 'c3'], [],
    ]);
    // budget 4: three medium bins folded into one, the high-size bin before them untouched
    expect(ids(basicPacking(comps([['c2', 1, 17], ['c4', 9, 13], ['c1', 2, 2], ['c3', 1, 2], ['c0', MAX_FREQUENCY, 1]]), 4))).toEqual([
      ['c2'], ['c3', 'c1', 'c4'], ['c0'], [],
    ]);
  });

  it('test_packing_fcos with 64 bins', () => {
    const input = fcos();
    expect(input).toHaveLength(396);
    expect(input[0]).toMatchObject({ identifier: 'linux-firmware-20221012-142.fc37.noarch', size: 185653797 });
    expect(input.at(-1)).toMatchObject({ identifier: 'filesystem-3.18-2.fc37.x86_64', size: 0 });
    const total = input.reduce((a, c) => a + c.size, 0);
    expect(total).toBe(1351235724);
    expect(input.filter((c) => c.change_frequency === MAX_FREQUENCY)).toHaveLength(2);

    const rest = input.filter((c) => c.change_frequency !== MAX_FREQUENCY);
    const partitions = partitionComponents(rest, 36);
    expect(Object.fromEntries(partitions.map(([k, v]) => [k, v.length]))).toEqual({
      '1hs': 36, '2ls': 128, '3hf_hs': 1, '3hf_ls': 2, '3hf_ms': 5, '4mf_hs': 7, '4mf_ls': 32,
      '4mf_ms': 36, '5lf_hs': 6, '5lf_ls': 86, '5lf_ms': 55,
    });

    const bins = basicPacking(input, 64);
    expect(bins).toHaveLength(64);
    expect(bins.flat().reduce((a, c) => a + c.size, 0)).toBe(total);
    expect(bins.map((b) => b.length)).toEqual([
      ...Array<number>(36).fill(1),
      128, 1, 2, 5, 7, 9, 9, 9, 5, 9, 9, 9, 9, 6, 9, 9, 9, 9, 9, 9, 1, 18, 14, 18, 18, 18, 2, 0,
    ]);
    expect(chunkName(bins[62]!)).toBe('initramfs (kernel 6.0.7-301.fc37.x86_64) and rpmostree-unpackaged-content');
  });

  it('FCOS data with other budgets', () => {
    const input = fcos();
    expect(basicPacking(input, 4).map((b) => b.length)).toEqual([89, 305, 2, 0]);
    expect(basicPacking(input, 8).map((b) => b.length)).toEqual([1, 1, 1, 88, 297, 6, 2, 0]);
    expect(basicPacking(input, 16)).toHaveLength(16);
  });

  it('parses sized metadata JSON', () => {
    const raw = JSON.parse(gunzipSync(readFileSync(FCOS)).toString('utf8')) as object[];
    expect(raw.map(parseObjectSourceMetaSized)).toEqual(raw);
    expect(() => parseObjectSourceMetaSized({ ...raw[0]!, size: -1 })).toThrow("'size' must be a non-negative integer");
    expect(() => parseObjectSourceMetaSized({ ...raw[0]!, name: 3 })).toThrow("missing string 'name'");
  });
});

describe('chunk names and annotations', () => {
  it('names by component count', () => {
    const c = (n: number) => Array.from({ length: n }, (_, i) => pkg(`p${i}.0`, 1, 1));
    expect(chunkName([])).toBe('Reserved for new packages');
    expect(chunkName(c(1))).toBe('p0.0');
    expect(chunkName(c(2))).toBe('p0.0 and p1.0');
    expect(chunkName(c(5))).toBe('p0.0 and p1.0 and p2.0 and p3.0 and p4.0');
    expect(chunkName(c(6))).toBe('6 components');
  });
  it('annotation sorts bytewise', () => {
    expect(componentsAnnotation(['pkg6', 'pkg7', 'pkg11', 'Z'])).toBe('Z,pkg11,pkg6,pkg7');
    expect(componentsAnnotation([])).toBe('');
  });
});

describe('Chunking', () => {
  const files = [
    { checksum: 'bb', size: 10, path: '/usr/bin/a' },
    { checksum: 'aa', size: 5, path: '/usr/lib/b' },
    { checksum: 'bb', size: 10, path: '/usr/bin/a2' },
    { checksum: 'cc', size: 0, path: '/opt' },
  ];
  it('single chunk: repeats only add paths', () => {
    const c = Chunking.fromTreeFiles(files);
    expect(c.remainder.size).toBe(15);
    expect(c.remainder.content.get('bb')).toEqual({ size: 10, paths: ['/usr/bin/a', '/usr/bin/a2'] });
    expect(c.remainder.sortedObjects().map(([k]) => k)).toEqual(['aa', 'bb', 'cc']);
  });

  it('computes sizes and moves objects into chunks', () => {
    const sizes = new Map(files.map((f) => [f.checksum, f.size]));
    const set = new Map(['x', 'y', 'z', 'w'].map((id) => [id, { identifier: id, name: id, srcid: id, change_time_offset: 0, change_frequency: MAX_FREQUENCY }]));
    const meta = sizeObjectMeta({ set, map: new Map([['bb', 'y'], ['aa', 'x'], ['cc', 'z'], ['ignored', 'x']]) }, (k) => sizes.get(k) ?? 0);
    expect(meta.sizes.map((s) => [s.identifier, s.size])).toEqual([['y', 10], ['x', 5], ['z', 0]]);
    const c = Chunking.fromTreeFiles(files);
    c.processMapping(meta, 7);
    expect(c.chunks.map((k) => [k.name, k.packages, [...k.content.keys()], k.size])).toEqual([
      ['y', ['y'], ['bb'], 10],
      ['x', ['x'], ['aa'], 5],
      ['z', ['z'], ['cc'], 0],
      ['Reserved for new packages', [], [], 0],
    ]);
    expect(c.remainder.content.size).toBe(0);
    expect([c.nProvidedComponents, c.nSizedComponents]).toEqual([3, 2]);
    expect(() => c.processMapping(meta)).toThrow('already processed');
  });

  it('the layer budget defaults to 64 (MAX_CHUNKS)', () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ checksum: i.toString(16).padStart(4, '0'), size: 1000 + i * 37, path: `/usr/lib/f${i}` }));
    const set = new Map(many.map((f, i) => [f.path, { identifier: f.path, name: f.path, srcid: f.path, change_time_offset: 0, change_frequency: (i * 7) % 13 }]));
    const meta = sizeObjectMeta({ set, map: new Map(many.map((f) => [f.checksum, f.path])) }, (k) => many.find((f) => f.checksum === k)!.size);
    const layout = (max?: number) => {
      const c = Chunking.fromTreeFiles(many);
      c.processMapping(meta, max);
      return c.chunks.map((k) => k.packages);
    };
    expect(layout()).toEqual(layout(64));
    expect(layout().length).toBeLessThanOrEqual(64);
    expect(layout()).not.toEqual(layout(32));
  });

  it('unknown component and uncovered objects are errors', () => {
    expect(() => sizeObjectMeta({ set: new Map(), map: new Map([['aa', 'nope']]) }, () => 1)).toThrow('Failed to find nope in content set');
    const c = Chunking.fromTreeFiles(files);
    const set = new Map([['x', { identifier: 'x', name: 'x', srcid: 'x', change_time_offset: 0, change_frequency: 1 }]]);
    const meta = sizeObjectMeta({ set, map: new Map([['aa', 'x']]) }, () => 1);
    expect(() => c.processMapping(meta, 4)).toThrow(/does not cover 2 content object\(s\) of the commit, e.g. bb \(\/usr\/bin\/a\)/);
  });
});

describe('content-meta file', () => {
  const doc = {
    version: 1,
    created: '2024-01-01T00:00:00Z',
    labels: { foo: 'file' },
    layers: { '10': 'ten', '2': 'two', unpackaged: 'Unpackaged' },
    mapping: { aa: '10', bb: '2', cc: 'unpackaged' },
  };
  it('keeps file order (even integer-like keys) and merges labels', () => {
    const text = `{"version":1,"created":"2024-01-01T00:00:00Z","labels":{"foo":"file"},"layers":{"10":"ten","2":"two","unpackaged":"Unpackaged"},"mapping":{"aa":"10","bb":"2","cc":"unpackaged"}}`;
    const file = parseContentMetaFile(text);
    expect(file.layers).toEqual([['10', 'ten'], ['2', 'two'], ['unpackaged', 'Unpackaged']]);
    const r = contentMetaToSized(file, new Map([['foo', 'cli'], ['bar', 'cli']]));
    expect(r.maxLayers).toBe(4);
    expect(r.created).toBe(doc.created);
    expect([...r.labels]).toEqual([['foo', 'file'], ['bar', 'cli']]);
    expect(r.meta.sizes.map((s) => [s.identifier, s.name, s.srcid, s.size, s.change_frequency, s.change_time_offset])).toEqual([
      ['10', 'ten', '10', 1, 1, 1],
      ['2', 'two', '2', 1, 1, 1],
      ['unpackaged', 'Unpackaged', 'unpackaged', 1, MAX_FREQUENCY, 1],
    ]);
    expect(ids(basicPacking(r.meta.sizes, r.maxLayers))).toEqual([['10'], ['2'], ['unpackaged'], []]);
  });
  it('errors', () => {
    expect(() => parseContentMetaFile(JSON.stringify({ ...doc, version: 2 }))).toThrow('Unsupported metadata version: 2. Currently supported: 1');
    expect(() => contentMetaToSized(parseContentMetaFile(JSON.stringify({ ...doc, ordered: true })))).toThrow('Ordered mapping not currently supported.');
    expect(() => parseContentMetaFile('{"version":1,')).toThrow('Invalid content metadata JSON');
    expect(() => parseContentMetaFile('[]')).toThrow('expected a JSON object');
    expect(() => parseContentMetaFile('{"version":1,"layers":{"a":1},"mapping":{}}')).toThrow('"layers" must be an object of strings');
    expect(() => parseContentMetaFile('{"version":1,"mapping":{}}')).toThrow('"layers" must be an object of strings');
    const two = contentMetaToSized(parseContentMetaFile('{"version":1,"layers":{"a":"A","b":"B"},"mapping":{}}'));
    expect(() => basicPacking(two.meta.sizes, two.maxLayers)).toThrow('MIN_CHUNKED_LAYERS');
  });
});

describe('chunks and plans, exactly', () => {
  const src = (id: string, size: number) => ({ identifier: id, name: id.toUpperCase(), srcid: id, change_time_offset: 0, change_frequency: 1, size });

  it('counts an object once however many paths it has, and moves it with its size', () => {
    const a = new Chunk();
    expect([a.name, a.size, a.packages]).toEqual(['', 0, []]);
    a.addPath('bb', 5, '/x');
    a.addPath('bb', 5, '/y');
    a.addPath('aa', 7, '/z');
    a.addPath('cc', 1, '/w');
    expect(a.size).toBe(13);
    expect(a.sortedObjects()).toEqual([['aa', { size: 7, paths: ['/z'] }], ['bb', { size: 5, paths: ['/x', '/y'] }], ['cc', { size: 1, paths: ['/w'] }]]);
    const b = new Chunk('b');
    expect(a.moveObject(b, 'bb')).toBe(true);
    expect(a.moveObject(b, 'bb')).toBe(false);
    expect(a.moveObject(b, 'nope')).toBe(false);
    expect([a.size, b.size, [...b.content.keys()]]).toEqual([8, 5, ['bb']]);
  });

  it('packs with 64 layers by default and refuses budgets that are not a positive integer', () => {
    const meta = { map: new Map([['00', 'a']]), sizes: [src('a', 1)] };
    expect(packChunks(meta).max).toBe(64);
    for (const m of [0, -1, 2.5]) expect(() => packChunks(meta, m)).toThrow(new RegExp(`^Invalid max layers: ${m}$`));
  });

  it('names each chunk and maps a component to the first chunk holding it', () => {
    const plan = planFromBins([[src('a', 1), src('b', 1)], [src('a', 1), src('c', 1)], []], 9);
    expect(plan.max).toBe(9);
    expect([...plan.chunkOf]).toEqual([['a', 0], ['b', 0], ['c', 1]]);
    expect(plan.chunks.map((c) => [c.name, c.packages])).toEqual([['a and b', ['A', 'B']], ['a and c', ['A', 'C']], ['Reserved for new packages', []]]);
  });

  it('orders components of equal size by identifier, bytewise', () => {
    const set = new Map(['b', 'a', 'B', 'c'].map((id) => [id, src(id, 0)]));
    const sized = sizeObjectMeta({ set, map: new Map([['1', 'b'], ['2', 'a'], ['3', 'B'], ['4', 'c'], ['5', 'c']]) }, () => 10);
    expect(sized.sizes.map((s) => [s.identifier, s.size])).toEqual([['c', 20], ['B', 10], ['a', 10], ['b', 10]]);
  });

  it('adds new components of a previous build in name order to its last layer', () => {
    const bins = basicPacking([src('d', 4), src('c', 3), src('a', 2), src('b', 1)], 8, { layers: [{}, { annotations: { 'ostree.components': 'A,B' } }, { annotations: { 'ostree.components': '' } }] });
    expect(bins.map((b) => b.map((c) => c.name))).toEqual([['A', 'B'], ['C', 'D']]);
  });
});
