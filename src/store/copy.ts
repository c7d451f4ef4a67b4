// Copying a stored image to another repository (spec store §4 `copy`): its layer commits and
// merge commit pulled through libostree's local-repo pull, then the same refs set there. The
// destination may be an archive repo.
import { withContext } from '../errors.js';
import type { ImageReference } from '../ref/image-reference.js';
import type { Repo } from '../repo/repo.js';
import { queryImage, refForImage, refForLayer } from './state.js';

export async function copy(srcRepo: Repo, srcImgref: ImageReference | string, destRepo: Repo, destImgref: ImageReference | string = srcImgref): Promise<void> {
  await withContext('Copying image', async () => {
    const state = await queryImage(srcRepo, srcImgref);
    if (!state) throw new Error(`No such image: ${srcImgref.toString()}`);
    const url = `file:///proc/self/fd/${srcRepo.dfd}`;
    const layers = new Map<string, string>();
    for (const layer of state.manifest.layers) {
      const ref = refForLayer(layer);
      layers.set(ref, await srcRepo.resolveRev(ref));
    }
    // Pulled by checksum: layer commits may carry ref bindings of other names (the ostree
    // commit's own branch), which a pull by ref would verify.
    await destRepo.pull(url, { refs: [...new Set([...layers.values(), state.mergeCommit])] });
    for (const [ref, commit] of layers) await destRepo.setRefImmediate(ref, commit);
    await destRepo.setRefImmediate(refForImage(destImgref), state.mergeCommit);
  });
}
