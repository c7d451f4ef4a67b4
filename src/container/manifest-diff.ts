// ManifestDiff: which layers an update adds and removes (spec references §4).
import { formatSize } from '../format.js';
import type { Descriptor, ImageManifest } from '../oci/types.js';

/** Layers keyed by the encoded part of their digest; a repeated key keeps the last descriptor. */
function layersByEncodedDigest(manifest: ImageManifest): Map<string, Descriptor> {
  const m = new Map<string, Descriptor>();
  for (const l of manifest.layers) m.set(l.digest.slice(l.digest.indexOf(':') + 1), l);
  return m;
}

function sortedMissing(from: Map<string, Descriptor>, to: Map<string, Descriptor>): Descriptor[] {
  return [...from.keys()]
    .filter((k) => !to.has(k))
    .sort()
    .map((k) => from.get(k)!);
}

const sum = (ds: readonly Descriptor[]) => ds.reduce((n, d) => n + d.size, 0);

/** The JSON form of a ManifestDiff: these six fields, in this order. */
export interface ManifestDiffJson {
  total: number;
  total_size: number;
  n_removed: number;
  removed_size: number;
  n_added: number;
  added_size: number;
}

/** The difference in layer content between two image manifests. */
export class ManifestDiff {
  /** Layers of `from` not in `to`, sorted by encoded digest. */
  readonly removed: readonly Descriptor[];
  /** Layers of `to` not in `from`, sorted by encoded digest. */
  readonly added: readonly Descriptor[];
  /** Number of distinct layers in `to`. */
  readonly total: number;
  /** Sum of the sizes of all layers of `to` (repeated layers counted each time). */
  readonly totalSize: number;
  readonly nRemoved: number;
  readonly removedSize: number;
  readonly nAdded: number;
  readonly addedSize: number;

  constructor(
    readonly from: ImageManifest,
    readonly to: ImageManifest,
  ) {
    const a = layersByEncodedDigest(from);
    const b = layersByEncodedDigest(to);
    this.removed = sortedMissing(a, b);
    this.added = sortedMissing(b, a);
    this.total = b.size;
    this.totalSize = sum(to.layers);
    this.nRemoved = this.removed.length;
    this.removedSize = sum(this.removed);
    this.nAdded = this.added.length;
    this.addedSize = sum(this.added);
  }

  toJSON(): ManifestDiffJson {
    return {
      total: this.total,
      total_size: this.totalSize,
      n_removed: this.nRemoved,
      removed_size: this.removedSize,
      n_added: this.nAdded,
      added_size: this.addedSize,
    };
  }

  /** The three summary lines (each ending in a newline); sizes as g_format_size prints them. */
  format(): string {
    const row = (label: string, n: number, size: number) => `${label}${String(n).padEnd(4)}  Size: ${formatSize(size)}\n`;
    return (
      row('Total new layers: ', this.total, this.totalSize) +
      row('Removed layers:   ', this.nRemoved, this.removedSize) +
      row('Added layers:     ', this.nAdded, this.addedSize)
    );
  }

  /** Writes `format()` to stdout. */
  print(): void {
    process.stdout.write(this.format());
  }
}
