// `image pull --progress auto|plain|json|none` and `--quiet` (spec store §6, README): what each mode
// prints, run in-process, on an image with ostree chunks and a derived layer. (Bars on a terminal:
// store-cli.test.ts.)
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciDir } from '../../src/oci/layout.js';
import type { Descriptor } from '../../src/oci/types.js';
import { runCli } from '../helpers/cli.js';
import { deriveOciImage } from '../helpers/sysroot.js';
import { chunkedExampleWork, cleanupTmp, freshRepo } from './encapsulate-util.js';

let image: string;
let layers: Descriptor[];
/** The layers ostree wrote (commit + chunks), then the derived one. */
let ostreeLayers: number;

beforeAll(async () => {
  const { work, chunked } = await chunkedExampleWork('image-pull-cli-');
  const derived = await deriveOciImage(chunked, path.join(work, 'derived'), { 'usr/share/note': 'derived' }, 'RUN note');
  image = `ostree-unverified-image:oci:${derived}`;
  layers = (await (await OciDir.open(derived)).readManifest()).manifest.layers;
  ostreeLayers = layers.length - 1;
}, 180_000);
afterAll(cleanupTmp);

const short = (d: Descriptor) => d.digest.slice('sha256:'.length, 'sha256:'.length + 19);
const STATUS = /^layers already present: 0; layers needed: (\d+) \(\d+(\.\d)?\s(kB|MB)\)$/;
const WROTE = /^Wrote: ostree-unverified-image:oci:\S+ => [0-9a-f]{64}$/;

async function pull(...opts: string[]): Promise<{ lines: string[]; stderr: string }> {
  const r = await runCli('image', 'pull', (await freshRepo()).path, image, ...opts);
  expect(r.code).toBe(0);
  return { lines: r.stdout.trimEnd().split('\n'), stderr: r.stderr };
}

describe('image pull output modes', () => {
  it('plain (and auto off a terminal): a Fetching and a Fetched line per layer, by kind, then Wrote', async () => {
    for (const opts of [['--progress', 'plain'], [], ['--progress', 'auto']]) {
      const { lines, stderr } = await pull(...opts);
      expect(stderr).toBe('');
      expect(lines[0]).toMatch(STATUS);
      expect(Number(STATUS.exec(lines[0]!)![1])).toBe(layers.length);
      expect(lines.at(-1)).toMatch(WROTE);
      const middle = lines.slice(1, -1);
      expect(middle).toHaveLength(2 * layers.length);
      for (const [i, l] of layers.entries()) {
        const what = `${i < ostreeLayers ? 'ostree chunk' : 'layer'} ${short(l)}`;
        const fetching = middle.findIndex((m) => m.startsWith(`Fetching ${what} (`));
        const fetched = middle.indexOf(`Fetched ${what}`);
        expect(fetching, `${opts.join(' ')}: layer ${i}`).toBeGreaterThanOrEqual(0);
        expect(fetched, `${opts.join(' ')}: layer ${i}`).toBeGreaterThan(fetching);
        expect(middle[fetching]).toMatch(/ \(\d+(\.\d)?\s(bytes|kB|MB)\)$/);
      }
    }
  });

  it('none and --quiet: the status line and Wrote only', async () => {
    for (const opts of [['--progress', 'none'], ['--quiet'], ['--quiet', '--progress', 'json']]) {
      const { lines, stderr } = await pull(...opts);
      expect(stderr).toBe('');
      expect(lines, opts.join(' ')).toHaveLength(2);
      expect(lines[0]).toMatch(STATUS);
      expect(lines[1]).toMatch(WROTE);
    }
  });

  it('json: one event object per line between the status line and Wrote', async () => {
    const { lines } = await pull('--progress', 'json');
    const events = lines.slice(1, -1).map((l) => JSON.parse(l) as { type: string; layer?: Descriptor; layerIndex?: number; kind?: string });
    expect(events.filter((e) => e.type === 'layer-started').map((e) => [e.layerIndex, e.kind, e.layer])).toEqual(
      expect.arrayContaining(layers.map((l, i) => [i, i < ostreeLayers ? 'ostree-chunk' : 'derived', { digest: l.digest, size: l.size, mediaType: l.mediaType }])),
    );
    expect(events.filter((e) => e.type === 'layer-completed')).toHaveLength(layers.length);
    expect(lines.at(-1)).toMatch(WROTE);
  });

  it('an unknown mode is refused before anything is pulled', async () => {
    const repo = await freshRepo();
    const r = await runCli('image', 'pull', repo.path, image, '--progress', 'fancy');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: option '--progress <mode>' argument 'fancy' is invalid\. Allowed choices are auto, bars, plain, json, none\./);
    expect(r.stdout).toBe('');
    expect((await repo.listRefs()).size).toBe(0);
  });
});
