// The system commands we run, found on PATH, and the packages that provide them.

/** Package names that provide each command (scripts/install-deps.sh installs them). */
const PACKAGES: Record<string, { apt: string; dnf: string }> = {
  skopeo: { apt: 'skopeo', dnf: 'skopeo' },
  ostree: { apt: 'ostree', dnf: 'ostree' },
  setpriv: { apt: 'util-linux', dnf: 'util-linux' },
  evmctl: { apt: 'ima-evm-utils', dnf: 'ima-evm-utils' },
};

/** `<command> is not installed: apt-get install <pkg> (Debian, Ubuntu) or dnf install <pkg> (Fedora)`. */
export function notInstalled(command: string): string {
  const pkg = PACKAGES[command];
  const how = pkg ? `: apt-get install ${pkg.apt} (Debian, Ubuntu) or dnf install ${pkg.dnf} (Fedora)` : '';
  return `${command} is not installed${how}`;
}
