// Argument checking of the tar entry points: caught before any work starts, with messages
// that name the offending field.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tar } from '../../src/index.js';
import { native } from '../../src/native.js';

let dir: string;
let repo: object;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tar-api-'));
  repo = await native<{ Repo: { create(p: string, m: string): Promise<object> } }>().Repo.create(path.join(dir, 'repo'), 'bare-user');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('tar argument checks', () => {
  it('rejects outputs and inputs that are neither fds nor paths', async () => {
    await expect(tar.exportCommit(repo, 'x', -1)).rejects.toThrow(new TypeError('layers[0].output must be a file descriptor or a path'));
    await expect(tar.exportCommit(repo, 'x', '')).rejects.toThrow('layers[0].output must be a file descriptor or a path');
    await expect(tar.importTar(repo, 1.5)).rejects.toThrow('input must be a file descriptor or a path');
    await expect(tar.updateDetachedMetadata('a', {} as never, undefined)).rejects.toThrow('dest must be a file descriptor or a path');
  });

  it('names the bad field of a layer spec', async () => {
    const out = path.join(dir, 'o');
    await expect(tar.exportLayers({}, [])).rejects.toThrow('repo must be a Repo');
    await expect(tar.exportLayers(repo, [{ kind: 'chunk', objects: [{ checksum: 'abc', paths: [] }], output: out }]))
      .rejects.toThrow('layers[0].objects[0].checksum is not a sha256 checksum: abc');
    await expect(tar.exportLayers(repo, [{ kind: 'chunk', objects: [{ checksum: 'a'.repeat(64), paths: [1 as never] }], output: out }]))
      .rejects.toThrow('layers[0].objects[0].paths must be an array of strings');
    await expect(tar.exportLayers(repo, [{ kind: 'weird' as never, objects: [], output: out }]))
      .rejects.toThrow("layers[0].kind must be 'full', 'commit' or 'chunk'");
    await expect(tar.exportLayers(repo, [{ kind: 'chunk', objects: [], output: out, compression: 'zstd', level: 22 }]))
      .rejects.toThrow('layers[0].level must be an integer from 1 to 19 for zstd');
    await expect(tar.exportLayers(repo, [{ kind: 'chunk', objects: [], output: out, compression: 'none', level: 3 }]))
      .rejects.toThrow('layers[0].level must be an integer from 1 to 12 for gzip');
  });

  it('checks import modes and media types', async () => {
    await expect(tar.importTar(repo, '/nonexistent', { mediaType: 'application/json' })).rejects.toThrow(
      'Unhandled layer type: application/json',
    );
    await expect(tar.importTar(repo, '/nonexistent')).rejects.toThrow('Opening /nonexistent: No such file or directory');
    await expect(tar.importTar(repo, '/nonexistent', { transaction: 'mine' as never })).rejects.toThrow(
      "importLayer: transaction must be 'own' or 'caller'",
    );
  });

  it('writes an empty chunk layer as skeleton + config only', async () => {
    const out = path.join(dir, 'empty.tar');
    const [r] = await tar.exportLayers(repo, [{ kind: 'chunk', objects: [], output: out, compression: 'none' }]);
    // 268 directories + config (1 block + 1 data block) + end of archive
    expect(r!.uncompressedSize).toBe((268 + 2) * 512 + 1024);
    expect(r!.diffId).toBe(r!.digest);
  });
});
