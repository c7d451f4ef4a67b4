// The fuzz corpus (seeds and every past finding) replayed through each libFuzzer harness built
// with ASan + UBSan: no new fuzzing, each input run once (scripts/fuzz.sh --replay). A crash,
// sanitizer report or timeout on any input fails; so does a missing clang (with the message
// saying what to install).
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const TARGETS = ['tar_reader', 'pax', 'objpath', 'deflate_scan', 'variant', 'derived_filter', 'derived_import'];

describe('fuzz corpus replay', () => {
  it('every corpus input passes its harness under ASan/UBSan', async () => {
    let out: { stdout: string; stderr: string };
    try {
      out = await promisify(execFile)('bash', ['scripts/fuzz.sh', '--replay'], { cwd: root, maxBuffer: 16 << 20 });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`scripts/fuzz.sh --replay failed:\n${err.stderr ?? ''}${err.stdout ?? err.message}`);
    }
    for (const t of TARGETS) {
      const n = readdirSync(path.join(root, 'test/fuzz/corpus', t)).length;
      expect(n).toBeGreaterThan(0);
      expect(out.stdout).toContain(`fuzz.sh: ${t}: ${n} corpus inputs replayed, no findings`);
    }
  }, 900_000);
});
