// Which libostree the addon runs against, checked against the system's own reports: behaviour that
// depends on the libostree version asks the loaded library (`ostreeCheckVersion`), so that the host
// (Debian 12: 2022.7) and the matrix chroot (Debian 13: 2025.2, see scripts/test-matrix.sh) each run
// their branch for real, also with a prebuild compiled against the other (package-install.test.ts).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';

const run = async (cmd: string, args: string[]) => (await promisify(execFile)(cmd, args)).stdout;

/** The running libostree's release as the ostree CLI (same shared library) reports it. */
async function cliVersion(): Promise<{ year: number; release: number; features: string }> {
  const out = await run('ostree', ['--version']);
  const m = /Version: '(\d+)\.(\d+)'/.exec(out);
  if (!m) throw new Error(`no version in \`ostree --version\`: ${out}`);
  return { year: Number(m[1]), release: Number(m[2]), features: out.split('Features:')[1] ?? '' };
}

describe('libostree version', () => {
  it('the build records the headers it was compiled against (pkg-config)', async () => {
    const { version, year, release } = native().libostreeBuilt;
    expect(version).toBe(`${year}.${release}`);
    expect((await run('pkg-config', ['--modversion', 'ostree-1'])).trim()).toBe(version);
  });

  it('ostreeCheckVersion answers for the loaded library: true up to its release, false after', async () => {
    const { year, release } = await cliVersion();
    const check = native().ostreeCheckVersion;
    expect([check(year, release), check(year, 0), check(year - 1, 99), check(2015, 1)]).toEqual([true, true, true, true]);
    expect([check(year, release + 1), check(year + 1, 0), check(2 ** 40, 1)]).toEqual([false, false, false]);
    expect(() => check(-1, 0)).toThrow(new RangeError('ostreeCheckVersion: year must be an integer from 0 to 9007199254740991, got -1'));
    expect(() => check(2024, '3' as unknown as number)).toThrow(new TypeError('ostreeCheckVersion: release must be a number'));
  });

  it('has the initial-var feature (deployments get /var from the commit) exactly when ostreeCheckVersion(2024, 3)', async () => {
    const { features } = await cliVersion();
    expect(/^\s+- initial-var$/m.test(features)).toBe(native().ostreeCheckVersion(2024, 3));
  });
});
