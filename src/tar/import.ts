// Tar import (spec §2): a layer stream → ostree objects, verified by libostree, inside a repo
// transaction that is aborted on any error.
import { withCancellable } from '../native.js';
import { MediaType } from '../oci/media-types.js';
import { nativeRepo, target, tarNative, withByteProgress, type ByteProgressOptions, type LayerTarget, type NativeImportResult, type RepoHandle } from './native.js';

/** Media type of a plain tar; the default input of the tar entry points. */
export const TAR_MEDIA_TYPE = MediaType.ImageLayer;

export interface TarImportOptions extends ByteProgressOptions {
  /** Verify the commit's detached signature through this configured ostree remote. */
  remote?: string;
  /** How the input is compressed, as a layer media type (default a plain tar). */
  mediaType?: string;
  /**
   * `own` (default): the import runs in its own transaction. `caller`: a transaction is
   * already open on the repo (several layers imported at once); the caller commits or aborts it.
   * There an imported commit stays marked partial: the caller marks it complete
   * (`markCommitPartial(commit, false)`) once every object it needs is committed.
   */
  transaction?: 'own' | 'caller';
  signal?: AbortSignal;
}

/** The native import result (documented in ./native.ts). */
export type TarImportResult = NativeImportResult;

function run(repo: RepoHandle, input: LayerTarget, mode: 'commit' | 'objects', o: TarImportOptions, finish: boolean) {
  return withByteProgress(o, (progress) =>
    withCancellable(o.signal, (c) =>
      tarNative().importLayer(
        nativeRepo(repo),
        {
          ...target(input, 'input'),
          mediaType: o.mediaType ?? TAR_MEDIA_TYPE,
          mode,
          ...(o.remote !== undefined ? { remote: o.remote } : {}),
          finish,
          transaction: o.transaction ?? 'own',
          progress,
        },
        c,
      ),
    ),
  );
}

/**
 * Imports an ostree-ext tar whose first repo entry is the commit (full export or commit layer).
 * Every object is verified against its name; the commit is marked partial until the
 * import completes.
 */
export async function importTar(repo: RepoHandle, input: LayerTarget, opts: TarImportOptions = {}): Promise<TarImportResult & { commit: string }> {
  return (await run(repo, input, 'commit', opts, false)) as TarImportResult & { commit: string };
}

export interface TarImportObjectsOptions extends Omit<TarImportOptions, 'remote'> {
  /** Write the synthetic commit of spec §2.5 (one file per object, named by checksum). */
  finish?: boolean;
}

/** Imports a content chunk layer (object-set mode): content objects only, no metadata objects. */
export async function importTarObjects(repo: RepoHandle, input: LayerTarget, opts: TarImportObjectsOptions = {}): Promise<TarImportResult> {
  return run(repo, input, 'objects', opts, opts.finish ?? false);
}
