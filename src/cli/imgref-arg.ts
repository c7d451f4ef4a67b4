import { ImageReference, OstreeImageReference, SignatureSource } from '../ref/image-reference.js';

/**
 * An image argument of the CLI: an ostree image reference, or a plain one (`oci:DIR`,
 * `docker://…`) taken as unverified. The ostree parse error is reported when neither parses.
 */
export function parseImgrefArg(s: string): OstreeImageReference {
  try {
    return OstreeImageReference.parse(s);
  } catch (e) {
    try {
      return new OstreeImageReference(SignatureSource.ContainerPolicyAllowInsecure, ImageReference.parse(s));
    } catch {
      throw e;
    }
  }
}
