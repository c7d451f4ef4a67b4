// Which layers of an image carry ostree content (spec §5 step 4): the commit layer (first),
// chunk layers up to the `ostree.final-diffid` layer, and derived (non-ostree) layers after it.
import { ContextError } from '../errors.js';
import { canonicalJson } from '../oci/canonical-json.js';
import type { Descriptor, ImageConfiguration, ImageManifest } from '../oci/types.js';
import { DIFFID_LABEL } from './constants.js';

export interface ManifestLayout {
  /** Absent when the image has no `ostree.final-diffid` label (then every layer is derived). */
  commitLayer?: Descriptor;
  chunkLayers: Descriptor[];
  derivedLayers: Descriptor[];
}

/** Descriptors are compared by value, as upstream does. */
function sameDescriptor(a: Descriptor, b: Descriptor): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}

/** The layer whose diff_id is `diffId` (same index in rootfs.diff_ids and manifest layers). */
function layerFromDiffId(manifest: ImageManifest, config: ImageConfiguration, diffId: string): Descriptor {
  const idx = config.rootfs.diff_ids.indexOf(diffId);
  if (idx < 0) throw new Error(`Missing ${DIFFID_LABEL} ${diffId}`);
  const layer = manifest.layers[idx];
  if (!layer) throw new Error(`diffid position ${idx} exceeds layer count ${manifest.layers.length}`);
  return layer;
}

export function parseManifestLayout(manifest: ImageManifest, config: ImageConfiguration): ManifestLayout {
  try {
    const first = manifest.layers[0];
    if (!first) throw new Error('No layers in manifest');
    const target = config.config?.Labels?.[DIFFID_LABEL];
    if (target === undefined) return { chunkLayers: [], derivedLayers: [...manifest.layers] };
    const targetLayer = layerFromDiffId(manifest, config, target);
    const chunkLayers: Descriptor[] = [];
    const derivedLayers: Descriptor[] = [];
    let afterTarget = false;
    for (const layer of manifest.layers) {
      if (sameDescriptor(layer, targetLayer)) {
        if (afterTarget) throw new Error(`Multiple entries for ${layer.digest}`);
        afterTarget = true;
        if (!sameDescriptor(layer, first)) chunkLayers.push(layer);
      } else if (!afterTarget) {
        if (!sameDescriptor(layer, first)) chunkLayers.push(layer);
      } else {
        derivedLayers.push(layer);
      }
    }
    return { commitLayer: first, chunkLayers, derivedLayers };
  } catch (e) {
    throw new ContextError('Parsing manifest layout', e);
  }
}

/** Like {@link parseManifestLayout}, but the image must have an ostree commit layer. */
export function parseOstreeManifestLayout(manifest: ImageManifest, config: ImageConfiguration): Required<ManifestLayout> {
  const layout = parseManifestLayout(manifest, config);
  if (!layout.commitLayer) {
    throw new Error(`Parsing manifest layout: No ${DIFFID_LABEL} label found, not an ostree encapsulated container`);
  }
  return layout as Required<ManifestLayout>;
}
