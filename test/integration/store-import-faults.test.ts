// The importer (src/store/importer.ts) where the system around it fails or differs, each with a
// real pull through skopeo: skopeo proxies that fail to start or to stop (a wrapper injecting
// the fault), the repository refusing to mark a commit complete or to cache an update (its
// directory made append-only: files can be created there, none removed or replaced), an abort
// before the base transaction opens, the journal of a repository that is not the system's,
// SELinux labels of derived layers, the proxy's isolation by transport (as a systemd service)
// and containers-storage as a source.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { encapsulate } from '../../src/container/encapsulate.js';
import type { BlobStreams } from '../../src/proxy/blob-streams.js';
import { ImageProxy } from '../../src/proxy/image-proxy.js';
import { skopeoCopy } from '../../src/proxy/skopeo-copy.js';
import { ImageReference, OstreeImageReference } from '../../src/ref/image-reference.js';
import type { Repo } from '../../src/repo/repo.js';
import { ImageImporter } from '../../src/store/importer.js';
import type { ImportProgress } from '../../src/store/progress.js';
import { layerSources } from '../../src/store/pipeline.js';
import { Transport } from '../../src/ref/transport.js';
import { listImages, queryImage, refForLayer } from '../../src/store/state.js';
import { buildDirImage } from '../helpers/images.js';
import { journalReceiver } from '../helpers/journal.js';
import { childProcesses } from '../helpers/process.js';
import { registryFixture } from '../helpers/registry.js';
import { deriveOciImage } from '../helpers/sysroot.js';
import { cleanupTmp, freshRepo, tmpdir } from './encapsulate-util.js';
import { ostreeCli } from '../../src/fixture/index.js';
import { fsck } from './tar-util.js';

afterAll(cleanupTmp);

const sh = promisify(execFile);
const reg = registryFixture('store-import-faults-');
const unverified = (ref: string) => OstreeImageReference.parse(`ostree-unverified-image:${ref}`);
const CLI = path.join(import.meta.dirname, '..', '..', 'lib', 'cli', 'main.js');

async function prepared(imp: ImageImporter) {
  const r = await imp.prepare();
  if (r.kind !== 'ready') throw new Error(`expected a ready import, got ${r.kind}`);
  return r.prepared;
}

async function pull(repo: Repo, ref: string, o: ConstructorParameters<typeof ImageImporter>[2] = {}) {
  const imp = new ImageImporter(repo, unverified(ref), o);
  return imp.import(await prepared(imp));
}

const skopeos = async () => {
  await new Promise((r) => setTimeout(r, 200));
  return childProcesses().filter((c) => / (skopeo|sh)$/.test(c));
};

/** A shell script standing in for skopeo (a fake injecting a fault), made executable. */
async function fakeSkopeo(name: string, body: string): Promise<string> {
  const p = path.join(await tmpdir('import-faults-skopeo-'), name);
  await writeFile(p, `#!/bin/sh\n${body}\n`);
  await chmod(p, 0o755);
  return p;
}

/** An ostree image of one tree committed by the CLI: the commit layer alone, or plus a derived layer. */
async function ostreeImage(files: Record<string, string>, derived?: Record<string, string>): Promise<{ ref: string; commit: string }> {
  const work = await tmpdir('import-faults-img-');
  const tree = path.join(work, 'tree');
  for (const [name, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(tree, name)), { recursive: true });
    await writeFile(path.join(tree, name), data);
  }
  const src = await freshRepo();
  const commit = (await ostreeCli(src.path, ['commit', '--branch=base', `--tree=dir=${tree}`, '--timestamp=@1700000000'])).trim();
  const oci = path.join(work, 'oci');
  await encapsulate(src, 'base', {}, {}, ImageReference.parse(`oci:${oci}`));
  if (!derived) return { ref: `oci:${oci}`, commit };
  return { ref: `oci:${await deriveOciImage(oci, path.join(work, 'derived'), derived, 'RUN derive')}`, commit };
}

/** Runs `fn` with `dir` append-only (chattr +a): entries can be created in it, none removed or renamed. */
async function appendOnly<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await sh('chattr', ['+a', dir]).catch((e: Error) => {
    throw new Error(`this test makes a directory append-only (chattr, root on ext4 needed): ${e.message}`);
  });
  try {
    return await fn();
  } finally {
    await sh('chattr', ['-a', dir]);
  }
}

/** The error of marking `commit` complete in a repository whose state/ is append-only. */
const completeRefused = (commit: string) => new RegExp(`^Importing: Marking commit complete: Removing state/${commit}\\.commitpartial: Operation not permitted$`);
const partialMarks = async (repo: Repo) => (await readdir(path.join(repo.path, 'state'))).filter((n) => n.endsWith('.commitpartial'));

describe('skopeo proxies that fail', () => {
  it('an extra registry proxy that fails to start fails the import with its error; the first proxy is stopped, no image stored', async () => {
    const img = await buildDirImage(path.join(await tmpdir('import-faults-reg-'), 'img'), { layers: [{ 'usr/share/a': 'a' }, { 'usr/share/b': 'b' }] });
    const ref = `docker://${reg.registry.host}/faults/extra:v1`;
    await skopeoCopy(img.ref, ref, { destTlsVerify: false });
    // The fault: only the first start (prepare()'s proxy) runs skopeo; the next refuses.
    const flag = path.join(await tmpdir('import-faults-flag-'), 'started');
    const skopeo = await fakeSkopeo('skopeo-once', `if mkdir ${flag} 2>/dev/null; then exec skopeo "$@"; fi\necho "injected fault: a second skopeo refuses to start" >&2\nexit 1`);
    const repo = await freshRepo();
    const imp = new ImageImporter(repo, unverified(ref), { insecureSkipTlsVerification: true, skopeoCmd: { program: skopeo } });
    const p = await prepared(imp);
    await expect(imp.import(p)).rejects.toThrow(
      /^Importing: skopeo proxy unexpectedly exited during request method Initialize: exit status: 1\ninjected fault: a second skopeo refuses to start$/,
    );
    expect(await skopeos()).toEqual([]);
    expect(await listImages(repo)).toEqual([]);
    // The first proxy fetches while the second starts: a layer it completed before the failure
    // stays stored, whole (as after any failed import); the others are not.
    for (const l of img.layers) {
      const c = await repo.resolveRev(refForLayer(l.descriptor), { allowNoent: true });
      if (c !== null) expect(await repo.hasObject('commit', c)).toBe(true);
    }
    expect(await fsck(repo.path)).toMatch(/no errors found/);
  });

  /**
   * A three-layer image in the registry and an importer (3 layers in flight) whose skopeo is a
   * wrapper starting every proxy after the first (prepare()'s) `lateS` seconds late: the fault.
   */
  async function lateProxies(name: string, lateS: number, onEvent: (imp: ImageImporter, e: ImportProgress) => void) {
    const img = await buildDirImage(path.join(await tmpdir(`import-faults-${name}-`), 'img'), {
      layers: [{ 'usr/share/a': 'a' }, { 'usr/share/b': 'b' }, { 'usr/share/c': 'c' }],
    });
    const ref = `docker://${reg.registry.host}/faults/${name}:v1`;
    await skopeoCopy(img.ref, ref, { destTlsVerify: false });
    const flag = path.join(await tmpdir('import-faults-flag-'), 'started');
    const skopeo = await fakeSkopeo('skopeo-late', `mkdir ${flag} 2>/dev/null || sleep ${lateS}\nexec skopeo "$@"`);
    const repo = await freshRepo();
    const imp: ImageImporter = new ImageImporter(repo, unverified(ref), { insecureSkipTlsVerification: true, skopeoCmd: { program: skopeo } })
      .setFetchConcurrency(3)
      .onProgress((e) => onEvent(imp, e));
    return { repo, ref, imp, prepared: await prepared(imp) };
  }

  it('registry proxies slow to start: the first one fetches meanwhile; the others join, and all are stopped', async () => {
    const byName = () => childProcesses().flatMap((c) => (/^skopeo/.test(c.split(' ')[2]!) ? [c.split(' ')[2]!] : []));
    const atFirstLayer: string[][] = [];
    const t = await lateProxies('late', 4, (_, e) => {
      if (e.type === 'layer-completed' && atFirstLayer.length === 0) atFirstLayer.push(byName());
    });
    const state = await t.imp.import(t.prepared);
    // A layer was stored while the two late proxies were still waiting to start.
    expect(atFirstLayer[0]!.sort()).toEqual(['skopeo', 'skopeo-late', 'skopeo-late']);
    expect(await skopeos()).toEqual([]);
    expect((await queryImage(t.repo, unverified(t.ref).imgref))?.mergeCommit).toBe(state.mergeCommit);
  });

  it('close() from outside while registry proxies are still starting: those that come up later are stopped at once', async () => {
    let closing: Promise<void> | undefined;
    const t = await lateProxies('close', 2, (imp, e) => {
      if (e.type === 'layer-completed') closing ??= imp.close();
    });
    // Closed under it, the import may fail or finish; either way it waits for the late starts.
    await t.imp.import(t.prepared).catch(() => undefined);
    await closing;
    expect(closing).toBeDefined();
    expect(await skopeos()).toEqual([]);
  });

  it('a proxy that fails as it stops, after every layer is stored: the import fails with that error, no image ref', async () => {
    const img = await buildDirImage(path.join(await tmpdir('import-faults-stop-'), 'img'), { layers: [{ 'usr/share/a': 'a' }] });
    // The fault: skopeo serves the whole pull, then its wrapper exits with status 3.
    const skopeo = await fakeSkopeo('skopeo-bad-exit', 'skopeo "$@"\nexit 3');
    const repo = await freshRepo();
    await expect(pull(repo, img.ref, { skopeoCmd: { program: skopeo } })).rejects.toThrow(/^Importing: proxy failed: exit status: 3$/);
    expect(await listImages(repo)).toEqual([]);
    // The layer itself completed and keeps its ref.
    expect(await repo.resolveRev(refForLayer(img.layers[0]!.descriptor), { allowNoent: true })).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the repository refusing a write', () => {
  it('import(): marking the commit complete fails: that error, the commit stored but still partial, no image', async () => {
    const img = await ostreeImage({ 'usr/share/a': 'a' });
    const repo = await freshRepo();
    await appendOnly(path.join(repo.path, 'state'), async () => {
      const e = await pull(repo, img.ref).catch((x: Error) => x);
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message).toMatch(completeRefused(img.commit));
      expect(e).toMatchObject({ code: 'EPERM' });
    });
    expect(await repo.hasObject('commit', img.commit)).toBe(true);
    expect(await partialMarks(repo)).toEqual([`${img.commit}.commitpartial`]);
    expect(await listImages(repo)).toEqual([]);
  });

  it('importBaseOnly(): marking the commit complete fails after its transaction is committed: the commit stays, partial', async () => {
    const img = await ostreeImage({ 'usr/share/a': 'a' });
    const repo = await freshRepo();
    const imp = new ImageImporter(repo, unverified(img.ref));
    const p = await prepared(imp);
    await appendOnly(path.join(repo.path, 'state'), async () => {
      await expect(imp.importBaseOnly(p)).rejects.toThrow(completeRefused(img.commit));
    });
    // All or nothing is the transaction's: its objects are committed, the marker says the rest.
    expect(await repo.hasObject('commit', img.commit)).toBe(true);
    expect(await partialMarks(repo)).toEqual([`${img.commit}.commitpartial`]);
    expect(await ostreeCli(repo.path, ['refs'])).toBe('');
  });

  it('prepare() of an update: caching its manifest beside the stored image fails: that error, the stored image untouched', async () => {
    const dir = path.join(await tmpdir('import-faults-cache-'), 'img');
    const first = await buildDirImage(dir, { layers: [{ 'usr/share/a': 'a' }] });
    const repo = await freshRepo();
    const state = await pull(repo, first.ref);
    await buildDirImage(dir, { layers: [{ 'usr/share/a': 'changed' }] });
    const m = state.mergeCommit;
    await appendOnly(path.join(repo.path, 'objects', m.slice(0, 2)), async () => {
      await expect(new ImageImporter(repo, unverified(first.ref)).prepare()).rejects.toThrow(
        new RegExp(`^Preparing import: Fetching manifest: Writing cached pending manifest: Unable to write detached metadata: renameat\\(.*${m.slice(2)}\\.commitmeta\\): Operation not permitted$`),
      );
    });
    expect(await queryImage(repo, unverified(first.ref).imgref)).toEqual({ ...state, verifyText: null });
    expect(await repo.readCommitDetachedMetadata(m)).toBeNull();
    expect(await skopeos()).toEqual([]);
  });
});

describe('aborts', () => {
  it('importBaseOnly() aborted before its transaction opens: the abort reason, nothing written, skopeo stopped', async () => {
    const img = await ostreeImage({ 'usr/share/a': 'a' });
    const repo = await freshRepo();
    const imp = new ImageImporter(repo, unverified(img.ref));
    const p = await prepared(imp);
    const ac = new AbortController();
    const done = imp.importBaseOnly(p, { signal: ac.signal });
    // importBaseOnly() checks the signal, then awaits the free-space check: the abort lands there.
    ac.abort(new Error('stopped by the test'));
    await expect(done).rejects.toThrow(/^Importing: stopped by the test$/);
    expect(await repo.hasObject('commit', img.commit)).toBe(false);
    expect(await partialMarks(repo)).toEqual([]);
    expect(await skopeos()).toEqual([]);
  });
});

describe('journal', () => {
  it('a repository that is not the system one sends nothing to journald (its socket stood in for in a private mount namespace)', async () => {
    const img = await buildDirImage(path.join(await tmpdir('import-faults-journal-'), 'img'), { layers: [{ 'usr/share/a': 'a' }] });
    const repo = await freshRepo();
    const journal = await journalReceiver();
    try {
      // /run/systemd/journal/socket is the receiver's socket for this shell and its children
      // only; the control message after the pull proves that path reaches the receiver.
      const control = `import('${path.join(import.meta.dirname, '..', '..', 'lib', 'journal.js')}').then((j) => j.journalSend(6, 'control'))`;
      const script = [
        'mount -t tmpfs tmpfs /run',
        'mkdir -p /run/systemd/journal',
        `mount --bind ${path.dirname(journal.socket)} /run/systemd/journal`,
        `node ${CLI} image pull ${repo.path} ostree-unverified-image:${img.ref} >/dev/null`,
        `node --input-type=module -e "${control}"`,
      ].join(' && ');
      const env = { ...process.env };
      delete env.OSTREE_CONTAINER_JOURNAL_SOCKET;
      const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const code = await new Promise((r) => child.once('close', r));
      expect(stderr).toBe('');
      expect(code).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(journal.entries.map((e) => e.fields.MESSAGE)).toEqual(['control']);
      expect((await listImages(repo)).length).toBe(1);
    } finally {
      journal.stop();
    }
  });
});

describe('SELinux', () => {
  it('a derived layer is labelled by the base commit policy', async () => {
    const policy = {
      'usr/etc/selinux/config': 'SELINUX=enforcing\nSELINUXTYPE=testpol\n',
      'usr/etc/selinux/testpol/contexts/files/file_contexts': '/.*\tsystem_u:object_r:default_t:s0\n/usr/bin(/.*)?\tsystem_u:object_r:bin_t:s0\n',
      'usr/etc/selinux/testpol/policy/policy.33': 'not a real policy: only its checksum is read',
      'usr/bin/basetool': 'b',
    };
    const img = await ostreeImage(policy, { 'usr/bin/new': 'n' });
    const repo = await freshRepo();
    const state = await pull(repo, img.ref);
    const layer = await repo.resolveRev(refForLayer(state.manifest.layers.at(-1)!));
    const labels = await ostreeCli(repo.path, ['ls', '-X', layer, '/usr/bin/new']);
    expect(/object_r:(\w+):s0/.exec(labels)?.[1]).toBe('bin_t');
  });
});

describe('the proxy by transport', () => {
  /** Runs `fn` as under systemd (INVOCATION_ID set): root then runs skopeo as nobody, except for containers-storage. */
  async function asService<T>(fn: () => Promise<T>): Promise<T> {
    const saved = process.env.INVOCATION_ID;
    process.env.INVOCATION_ID = 'store-import-faults';
    try {
      return await fn();
    } finally {
      if (saved === undefined) delete process.env.INVOCATION_ID;
      else process.env.INVOCATION_ID = saved;
    }
  }

  it('as a root service, an image only root can read is refused: skopeo runs as nobody', async () => {
    // skopeo 1.9.3 fails its lstat of the directory, 1.18 its faccessat.
    const dir = await tmpdir('import-faults-private-');
    await chmod(dir, 0o700);
    const img = await buildDirImage(path.join(dir, 'img'), { layers: [{ 'usr/share/a': 'a' }] });
    const repo = await freshRepo();
    await asService(async () => {
      await expect(new ImageImporter(repo, unverified(img.ref)).prepare()).rejects.toThrow(
        new RegExp(`^Preparing import: Fetching manifest: failed to invoke method OpenImage: (lstat|faccessat) ${img.path}: permission denied$`),
      );
    });
    expect(await skopeos()).toEqual([]);
  });

  it('containers-storage (a private vfs store): skopeo runs as root, reads the image, and pulls it where its proxy tells the layers apart', async () => {
    const root = await tmpdir('import-faults-cs-');
    const conf = path.join(root, 'storage.conf');
    await writeFile(conf, `[storage]\ndriver = "vfs"\ngraphroot = "${root}/graph"\nrunroot = "${root}/run"\n`);
    const img = await buildDirImage(path.join(root, 'img'), { layers: [{ 'usr/share/a': 'a' }, { 'usr/share/b': 'b' }] });
    const saved = process.env.CONTAINERS_STORAGE_CONF;
    process.env.CONTAINERS_STORAGE_CONF = conf;
    try {
      const ref = 'containers-storage:localhost/import-faults:v1';
      await skopeoCopy(img.ref, ref);
      // Layer info (GetLayerInfo) came with proxy protocol 0.2.5 (Debian 12's skopeo 1.9.3 speaks 0.2.3).
      const probe = await ImageProxy.create({});
      const layerInfo = probe.supports('0.2.5');
      await probe.finalize();
      const repo = await freshRepo();
      await asService(async () => {
        const imp = new ImageImporter(repo, unverified(ref));
        const p = await prepared(imp);
        if (!layerInfo) {
          await expect(imp.import(p)).rejects.toThrow(/^Importing: skopeo too old to pull from containers-storage$/);
          expect(await listImages(repo)).toEqual([]);
        } else {
          const state = await imp.import(p);
          expect(state.configuration.rootfs.diff_ids).toEqual(img.config.rootfs.diff_ids);
          expect(await ostreeCli(repo.path, ['cat', state.mergeCommit, '/usr/share/b'])).toBe('b');
        }
      });
      expect(await skopeos()).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.CONTAINERS_STORAGE_CONF;
      else process.env.CONTAINERS_STORAGE_CONF = saved;
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('layer sources', () => {
  // A fake proxy standing in for skopeo's layer info (GetLayerInfo): real skopeo lists every
  // layer of the image, and Debian 12's has no layer info at all.
  const streams = (info: { digest: string; size: number; mediaType: string }[] | null) => ({ proxy: { getLayerInfo: () => Promise.resolve(info) }, image: {} }) as unknown as BlobStreams;
  const layer = (n: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${String(n).repeat(64)}`, size: n });
  const manifest = { schemaVersion: 2 as const, config: layer(9), layers: [layer(1), layer(2)] };

  it('containers-storage: each layer as the proxy lists it, one past its list refused; without layer info, skopeo is too old; other transports: the manifest', async () => {
    const listed = [{ digest: `sha256:${'7'.repeat(64)}`, size: 70, mediaType: 'application/vnd.oci.image.layer.v1.tar' }];
    const sourceOf = await layerSources(streams(listed), Transport.ContainerStorage, manifest);
    expect(sourceOf(0)).toEqual(listed[0]);
    expect(() => sourceOf(1)).toThrow(/^blobid position 1 exceeds diffid count 1$/);
    await expect(layerSources(streams(null), Transport.ContainerStorage, manifest)).rejects.toThrow(/^skopeo too old to pull from containers-storage$/);
    const fromManifest = await layerSources(streams(null), Transport.Registry, manifest);
    expect(fromManifest(1)).toBe(manifest.layers[1]);
  });
});
