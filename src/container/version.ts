// Version and labels of an image configuration (spec references §4).
import { ANNOTATION_VERSION, LABEL_VERSION } from './constants.js';
import type { ImageConfiguration } from '../oci/types.js';

/** The `config.Labels` map of an image configuration, or undefined when absent (or null). */
export function labelsOf(config: ImageConfiguration): Record<string, string> | undefined {
  return config.config?.Labels ?? undefined;
}

/** The `org.opencontainers.image.version` label, else the `version` label, verbatim (may be ""). */
export function versionForConfig(config: ImageConfiguration): string | undefined {
  const labels = labelsOf(config);
  if (!labels) return undefined;
  for (const key of [ANNOTATION_VERSION, LABEL_VERSION]) {
    if (Object.hasOwn(labels, key)) return labels[key];
  }
  return undefined;
}
