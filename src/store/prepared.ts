// The plan of an import (spec store §2.2): the new manifest and configuration, the previous
// image if any, and per layer whether the store already holds it.
import { ManifestDiff } from '../container/manifest-diff.js';
import { versionForConfig } from '../container/version.js';
import { formatSize } from '../format.js';
import type { Descriptor, History, ImageConfiguration, ImageManifest } from '../oci/types.js';
import type { LayeredImageState } from './state.js';

/** A manifest layer and what the store has of it. */
export interface ManifestLayerState {
  layer: Descriptor;
  /** `ostree/container/blob/<escaped digest>`. */
  ostreeRef: string;
  /** The layer's commit when stored, else null (to fetch). */
  commit: string | null;
}

export class PreparedImport {
  /** Signature verification text; set by import() once the base is verified. */
  verifyText: string | null = null;

  constructor(
    readonly manifestDigest: string,
    readonly manifest: ImageManifest,
    readonly config: ImageConfiguration,
    readonly previousState: LayeredImageState | null,
    /** The commit layer; null for a generic (non-ostree) image. */
    readonly ostreeCommitLayer: ManifestLayerState | null,
    /** Chunk layers: after the commit layer up to the `ostree.final-diffid` layer. */
    readonly ostreeLayers: ManifestLayerState[],
    /** Derived (non-ostree) layers. */
    readonly layers: ManifestLayerState[],
  ) {}

  get previousManifestDigest(): string | null {
    return this.previousState?.manifestDigest ?? null;
  }

  /** Config digest of the previous image. */
  get previousImageid(): string | null {
    return this.previousState?.manifest.config.digest ?? null;
  }

  /** Commit layer, chunk layers, derived layers: manifest order. */
  allLayers(): ManifestLayerState[] {
    return [...(this.ostreeCommitLayer ? [this.ostreeCommitLayer] : []), ...this.ostreeLayers, ...this.layers];
  }

  /** Each layer with its history entry (empty-layer entries included, as upstream zips them). */
  layersWithHistory(): { layer: ManifestLayerState; history: History }[] {
    const history = this.config.history ?? [];
    return this.allLayers().map((layer, i) => {
      const h = history[i];
      if (!h) throw new Error('Truncated history');
      return { layer, history: h };
    });
  }

  /** Layers without a stored commit, with their history's `created_by` (or ""). */
  layersToFetch(): { layer: ManifestLayerState; createdBy: string }[] {
    const history = this.config.history ?? [];
    return this.allLayers()
      .map((layer, i) => ({ layer, createdBy: history[i]?.created_by ?? '' }))
      .filter((l) => l.layer.commit === null);
  }

  version(): string | undefined {
    return versionForConfig(this.config);
  }

  /** Upstream has no deprecation left to warn about. */
  deprecatedWarning(): string | null {
    return null;
  }

  /** `layers already present: <n>; layers needed: <m> (<size>)`, or null when nothing is missing. */
  formatLayerStatus(): string | null {
    const all = this.allLayers();
    const needed = all.filter((l) => l.commit === null);
    if (needed.length === 0) return null;
    const size = needed.reduce((n, l) => n + l.layer.size, 0);
    return `layers already present: ${all.length - needed.length}; layers needed: ${needed.length} (${formatSize(size)})`;
  }

  /** What changed since the previous image (null without one). */
  manifestDiff(): ManifestDiff | null {
    return this.previousState ? new ManifestDiff(this.previousState.manifest, this.manifest) : null;
  }
}

export type PrepareResult = { kind: 'already-present'; state: LayeredImageState } | { kind: 'ready'; prepared: PreparedImport };
