// Reading images from the local OCI transports (`oci:` and `oci-archive:`) without skopeo.
import { ImageReference, parseOciPathAndTag } from '../ref/image-reference.js';
import { Transport } from '../ref/transport.js';
import { openOciArchive } from './archive.js';
import { OciDir } from './layout.js';
import type { ImageManifest } from './types.js';

export interface LocalManifest {
  /** Digest of the manifest blob. */
  digest: string;
  manifest: ImageManifest;
}

/**
 * Reads the (verified) manifest named by an `oci:DIR[:TAG]` or `oci-archive:FILE[:TAG]`
 * reference (tag split at the first `:`, as skopeo does). Other transports are an error.
 */
export async function readLocalManifest(imgref: ImageReference): Promise<LocalManifest> {
  const { path, tag } = parseOciPathAndTag(imgref.name);
  const read = async (dir: OciDir): Promise<LocalManifest> => {
    const { descriptor, manifest } = await dir.readManifest(tag);
    return { digest: descriptor.digest, manifest };
  };
  switch (imgref.transport) {
    case Transport.OciDir:
      return read(await OciDir.open(path));
    case Transport.OciArchive: {
      const extracted = await openOciArchive(path);
      try {
        return await read(extracted.dir);
      } finally {
        await extracted.remove();
      }
    }
    default:
      throw new Error(`Reading ${imgref.toString()}: only oci: and oci-archive: images can be read locally`);
  }
}
