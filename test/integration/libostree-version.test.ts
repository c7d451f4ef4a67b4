// Which libostree the addon runs against, checked against the system's own reports: behaviour that
// depends on the libostree version (features detected at run time) must see the release installed
// here, so that the host (Debian 12: 2022.7) and the matrix chroot (Debian 13: 2025.2, see
// scripts/test-matrix.sh) each run their branch for real.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';

const run = async (cmd: string, args: string[]) => (await promisify(execFile)(cmd, args)).stdout;

describe('libostree version', () => {
  it('is the release the headers (pkg-config) and the ostree CLI report', async () => {
    const { version, year, release } = native().libostree;
    expect(version).toBe(`${year}.${release}`);
    expect((await run('pkg-config', ['--modversion', 'ostree-1'])).trim()).toBe(version);
    expect(await run('ostree', ['--version'])).toContain(`Version: '${version}'`);
  });

  it('has the initial-var feature (deployments get /var from the commit) exactly from 2024.3', async () => {
    const { year, release } = native().libostree;
    const features = (await run('ostree', ['--version'])).split('Features:')[1] ?? '';
    expect(/^\s+- initial-var$/m.test(features)).toBe(year > 2024 || (year === 2024 && release >= 3));
  });
});
