// The plan of an import (spec store §2.2): per layer of the image, the stored commit that holds
// it — by its digest's blob ref, else by its diff_id (layer-reuse.ts) — or null (to fetch); and,
// offline, which image to plan at all: the stored one, or the update recorded beside it.
import { BOOTC_LABEL, METADATA_KEY_BOOTABLE } from '../container/constants.js';
import { parseManifestLayout } from '../container/manifest-layout.js';
import { labelsOf } from '../container/version.js';
import { formatSize } from '../format.js';
import { hostOciArch } from '../oci/platform.js';
import type { Descriptor, ImageConfiguration, ImageManifest } from '../oci/types.js';
import type { ImageReference } from '../ref/image-reference.js';
import type { Repo } from '../repo/repo.js';
import { storedLayersByDiffId, type DiffIdIndex } from './layer-reuse.js';
import { PreparedImport, type ManifestLayerState, type PrepareResult } from './prepared.js';
import { refForLayer, type CachedUpdate, type LayeredImageState } from './state.js';

export interface ImageToPlan {
  digest: string;
  manifest: ImageManifest;
  config: ImageConfiguration;
  previous: LayeredImageState | null;
}

export interface PlanChecks {
  /** Refuse images without a bootable label or for another architecture. */
  bootable: boolean;
  /**
   * The commit is verified through an ostree remote as its layer is imported: only the very same
   * blob counts as stored then (as upstream), not one found by diff_id.
   */
  verifyCommit: boolean;
}

export async function planImport(repo: Repo, image: ImageToPlan, checks: PlanChecks): Promise<PreparedImport> {
  const { digest, manifest, config, previous } = image;
  if (checks.bootable) {
    const labels = labelsOf(config) ?? {};
    if (!Object.hasOwn(labels, METADATA_KEY_BOOTABLE) && !Object.hasOwn(labels, BOOTC_LABEL)) {
      throw new Error(`Target image does not have ${METADATA_KEY_BOOTABLE} label`);
    }
    const host = hostOciArch();
    if (config.architecture !== host) throw new Error(`Image has architecture ${config.architecture}; expected ${host}`);
  }
  const layout = parseManifestLayout(manifest, config);
  let byDiffId: DiffIdIndex | undefined;
  const state = async (layer: Descriptor, diffId: string | undefined): Promise<ManifestLayerState> => {
    const ostreeRef = refForLayer(layer);
    let commit = await repo.resolveRev(ostreeRef, { allowNoent: true });
    if (commit === null && diffId !== undefined && !(checks.verifyCommit && layer === layout.commitLayer)) {
      commit = (byDiffId ??= await storedLayersByDiffId(repo)).get(diffId) ?? null;
    }
    return { layer, ostreeRef, commit };
  };
  const all: ManifestLayerState[] = [];
  for (const [i, l] of manifest.layers.entries()) all.push(await state(l, config.rootfs.diff_ids[i]));
  const of = (l: Descriptor) => all[manifest.layers.indexOf(l)]!;
  return new PreparedImport(digest, manifest, config, previous, layout.commitLayer ? of(layout.commitLayer) : null, layout.chunkLayers.map(of), layout.derivedLayers.map(of));
}

/** `@sha256:…` pinned in an image name, or null. */
function pinnedDigest(name: string): string | null {
  return /@(sha256:[0-9a-f]{64})$/.exec(name)?.[1] ?? null;
}

/**
 * An offline prepare(): the stored image (already present), or the update recorded beside it
 * (`plan` makes its plan) when every layer of it is stored; otherwise an error naming what is
 * missing.
 */
export async function planOffline(previous: LayeredImageState | null, imgref: ImageReference, plan: (update: CachedUpdate) => Promise<PreparedImport>): Promise<PrepareResult> {
  const name = imgref.toString();
  const pinned = pinnedDigest(imgref.name);
  const pending = previous?.cachedUpdate;
  if (previous && pending && pending.manifestDigest !== previous.manifestDigest && pending.manifest.config.digest !== previous.manifest.config.digest && (pinned === null || pinned === pending.manifestDigest)) {
    const prepared = await plan(pending);
    const missing = prepared.layersToFetch().map((l) => l.layer.layer);
    if (missing.length > 0) {
      const size = missing.reduce((n, l) => n + l.size, 0);
      throw new Error(`Offline: ${missing.length} layers (${formatSize(size)}) of the update ${pending.manifestDigest} of ${name} are not stored: ${missing.map((l) => l.digest).join(', ')}`);
    }
    return { kind: 'ready', prepared };
  }
  if (previous && (pinned === null || pinned === previous.manifestDigest)) return { kind: 'already-present', state: previous };
  throw new Error(`Offline: ${name}${previous ? ` is stored as ${previous.manifestDigest}, not ${pinned}, and no update of it was downloaded` : ' is not stored and no update of it was downloaded'}; its manifest must be fetched`);
}
