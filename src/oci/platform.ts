// The host platform in OCI (Go) naming.
import os from 'node:os';
import type { Platform } from './types.js';

/**
 * Maps a Node `process.arch` value to the OCI/Go architecture name: x64→amd64, ia32→386,
 * mipsel→mipsle, ppc64→ppc64le on little-endian hosts; others (arm64, arm, s390x, riscv64,
 * loong64, mips…) are the same in both.
 */
export function ociArchFromNode(arch: string, endianness: 'BE' | 'LE' = os.endianness()): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'mipsel':
      return 'mipsle';
    case 'ppc64':
      return endianness === 'LE' ? 'ppc64le' : 'ppc64';
    default:
      return arch;
  }
}

/** The OCI architecture of this host (e.g. `amd64`). */
export function hostOciArch(): string {
  return ociArchFromNode(process.arch);
}

/** `{ architecture: <host>, os: 'linux' }`, the platform written for the images we build. */
export function hostPlatform(): Platform {
  return { architecture: hostOciArch(), os: 'linux' };
}
