// Exporting a stored image again (spec store §4 `export`, CLI `reexport`): the ostree part is
// re-chunked from the stored chunk commits by the native exporter (the commit layer takes what
// no chunk holds), derived layers are re-serialised with `ostree export`. Layer bytes differ
// from the original image; configuration, history and labels are kept (diff_ids updated).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { DIFFID_LABEL } from '../container/constants.js';
import { effectiveCompression, type ExportOpts } from '../container/encapsulate.js';
import { parseManifestLayout, type ManifestLayout } from '../container/manifest-layout.js';
import { withContext } from '../errors.js';
import { OciDir } from '../oci/layout.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageConfiguration } from '../oci/types.js';
import { skopeoCopy } from '../proxy/skopeo-copy.js';
import { ImageReference, parseOciPathAndTag } from '../ref/image-reference.js';
import { Transport } from '../ref/transport.js';
import type { Repo } from '../repo/repo.js';
import { notInstalled } from '../system-tools.js';
import { exportLayers, type LayerSpec } from '../tar/export.js';
import { bigTempDir } from '../tmpdir.js';
import { queryImage, refForLayer, type LayeredImageState } from './state.js';

/** A derived layer commit as a plain tar (libostree's own tar export) into the layout. */
async function ostreeExportLayer(repo: Repo, commit: string, oci: OciDir): Promise<{ descriptor: Descriptor; diffId: string }> {
  const child = spawn('ostree', [`--repo=${repo.path}`, 'export', commit], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4096)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error(notInstalled('ostree'), { cause: e }) : e));
    child.once('close', (code) => resolve(code));
  });
  const blob = oci.writeBlobFromStream(child.stdout).catch(async (e: unknown) => {
    child.kill();
    await exited.catch(() => undefined);
    throw e;
  });
  const [code, written] = await Promise.all([exited, blob]);
  if (code !== 0) {
    await rm(oci.blobPath(written.digest), { force: true });
    throw new Error(`ostree export ${commit} failed (${code}): ${stderr.trim()}`);
  }
  return { descriptor: { mediaType: MediaType.ImageLayer, digest: written.digest, size: written.size }, diffId: written.digest };
}

/** The layout of an image with an ostree part. */
type OstreeLayout = ManifestLayout & { commitLayer: Descriptor };

/** The checksums a stored chunk commit holds (its root files are named by object checksum). */
async function chunkObjects(repo: Repo, commit: string): Promise<string[]> {
  const { rootContents } = await repo.loadCommit(commit);
  return (await repo.readDirTree(rootContents)).files.map((f) => f.name);
}

async function exportToOciDir(repo: Repo, state: LayeredImageState, layout: OstreeLayout, oci: OciDir, tag: string | undefined, opts: ExportOpts, dest: ImageReference): Promise<string> {
  const { manifest, configuration } = state;
  const compression = effectiveCompression(opts, dest);
  const chunkCommits = await Promise.all(layout.chunkLayers.map((l) => repo.resolveRev(refForLayer(l))));
  // Every object of a chunk goes to that chunk's layer, the rest to the commit layer (last spec).
  const assigned: string[] = [];
  const layerOf: number[] = [];
  for (const [i, c] of chunkCommits.entries()) {
    for (const checksum of await chunkObjects(repo, c)) {
      assigned.push(checksum);
      layerOf.push(i);
    }
  }
  const paths = [...layout.chunkLayers, layout.commitLayer].map(() => oci.tempPath());
  const specs: LayerSpec[] = [
    ...layout.chunkLayers.map((_, i) => ({ kind: 'chunk' as const, compression, output: paths[i]! })),
    { kind: 'commit', rev: state.baseCommit, compression, output: paths.at(-1)! },
  ];
  let results;
  try {
    results = await withContext('Exporting layers', () =>
      exportLayers(repo, specs, {
        assign: {
          rev: state.baseCommit,
          checksums: Buffer.from(assigned.join(''), 'hex'),
          layers: Uint32Array.from(layerOf),
          defaultLayer: layout.chunkLayers.length,
        },
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    );
  } catch (e) {
    await Promise.all(paths.map((p) => rm(p, { force: true })));
    throw e;
  }
  await Promise.all(results.map((r, i) => oci.writeBlobFromFile(paths[i]!, { digest: r.digest, size: r.size }, { verify: false })));
  const asLayer = (i: number, old: Descriptor) => ({
    descriptor: { mediaType: results[i]!.mediaType, digest: results[i]!.digest, size: results[i]!.size, ...(old.annotations ? { annotations: old.annotations } : {}) },
    diffId: results[i]!.diffId,
  });
  const ostreeLayers = [asLayer(results.length - 1, layout.commitLayer), ...layout.chunkLayers.map((l, i) => asLayer(i, l))];
  const derived = [];
  for (const l of layout.derivedLayers) derived.push(await withContext(`Exporting layer ${l.digest}`, async () => ostreeExportLayer(repo, await repo.resolveRev(refForLayer(l)), oci)));
  const layers = [...ostreeLayers, ...derived];
  const config: ImageConfiguration = structuredClone(configuration);
  config.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.diffId) };
  config.config ??= {};
  config.config.Labels = { ...(config.config.Labels ?? {}), [DIFFID_LABEL]: ostreeLayers.at(-1)!.diffId };
  const configDesc = await oci.writeConfig(config);
  const annotations = manifest.annotations ? { ...manifest.annotations, ...(DIFFID_LABEL in manifest.annotations ? { [DIFFID_LABEL]: ostreeLayers.at(-1)!.diffId } : {}) } : undefined;
  const written = await oci.insertManifest(
    { schemaVersion: 2, ...(manifest.mediaType ? { mediaType: manifest.mediaType } : {}), config: configDesc, layers: layers.map((l) => l.descriptor), ...(annotations ? { annotations } : {}) },
    tag === undefined ? {} : { tag },
  );
  return written.digest;
}

/**
 * Writes the stored image `src` as a container image to `dest` and returns the manifest digest:
 * `oci:DIR[:TAG]` directly, other transports through a temp layout and `skopeo copy`.
 */
export async function exportImage(repo: Repo, src: ImageReference, dest: ImageReference, opts: ExportOpts = {}): Promise<string> {
  // Before anything is created at the destination.
  const state = await queryImage(repo, src);
  if (!state) throw new Error(`No such image: ${src.toString()}`);
  const layout = parseManifestLayout(state.manifest, state.configuration);
  if (!layout.commitLayer) throw new Error(`Missing ${DIFFID_LABEL}`);
  const ostree = { ...layout, commitLayer: layout.commitLayer };
  if (dest.transport === Transport.OciDir) {
    const { path: dir, tag } = parseOciPathAndTag(dest.name);
    return exportToOciDir(repo, state, ostree, await OciDir.ensure(dir), tag, opts, dest);
  }
  const tmp = await mkdtemp(path.join(bigTempDir(), 'ostree-container-reexport-'));
  try {
    const oci = await OciDir.ensure(path.join(tmp, 'oci'));
    await exportToOciDir(repo, state, ostree, oci, undefined, opts, dest);
    return await withContext('Skopeo copy', () =>
      skopeoCopy(new ImageReference(Transport.OciDir, oci.path), dest, {
        ...(opts.authfile !== undefined ? { authfile: opts.authfile } : {}),
        ...(opts.insecureSkipTlsVerification ? { destTlsVerify: false } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
