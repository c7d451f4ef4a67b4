// Tar-level detached-metadata update (spec §6): copy a commit-layer tar, replacing or removing
// the `.commitmeta` entry that follows the commit. Streams natively; nothing is held in memory.
import { withCancellable } from '../native.js';
import { TAR_MEDIA_TYPE } from './import.js';
import { target, tarNative, type LayerCompression, type LayerResult, type LayerTarget } from './native.js';

export interface UpdateDetachedMetadataTarOptions {
  /** How `src` is compressed, as a layer media type (default a plain tar). */
  inputMediaType?: string;
  /** Compression of `dest` (default `none`). */
  compression?: LayerCompression;
  signal?: AbortSignal;
}

/**
 * Copies the tar `src` to `dest` with the commit's detached metadata set to `detached`
 * (serialized `a{sv}`), or removed when it is undefined. Returns the new blob's digests.
 */
export async function updateDetachedMetadata(
  src: LayerTarget,
  dest: LayerTarget,
  detached: Uint8Array | undefined,
  opts: UpdateDetachedMetadataTarOptions = {},
): Promise<LayerResult & { commit: string }> {
  const input = target(src, 'src');
  const output = target(dest, 'dest');
  return withCancellable(opts.signal, (c) =>
    tarNative().rewriteDetachedMetadata(
      {
        input,
        inputMediaType: opts.inputMediaType ?? TAR_MEDIA_TYPE,
        output,
        compression: opts.compression ?? 'none',
      },
      detached ?? null,
      c,
    ),
  );
}
