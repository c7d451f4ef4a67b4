// Whether a base image's root is transient (spec store §2.3 B): then derived layers may write
// outside /usr. Read from the image's own prepare-root.conf, as ostree-prepare-root would.
import { parseIniBoolean, parseIniFile } from './keyfile.js';
import type { Repo } from '../repo/repo.js';

const CONF_PATHS = ['/etc/ostree/prepare-root.conf', '/usr/lib/ostree/prepare-root.conf'];
/** `[composefs] enabled` values that turn composefs on (anything else unknown is "off"). */
const COMPOSEFS_ON = ['yes', 'true', '1', 'maybe', 'signed', 'verity'];

/** True when `[root] transient` is true or composefs is enabled in the commit's prepare-root.conf. */
export async function rootIsTransient(repo: Repo, commit: string): Promise<boolean> {
  for (const p of CONF_PATHS) {
    const found = await repo.lookupPath(commit, p);
    if (found?.kind !== 'file') continue;
    const conf = parseIniFile((await repo.readContent(found.checksum)).toString('utf8'));
    if (parseIniBoolean(conf.get('root')?.get('transient')) === true) return true;
    const composefs = conf.get('composefs')?.get('enabled');
    return composefs !== undefined && COMPOSEFS_ON.includes(composefs.trim().toLowerCase());
  }
  return false;
}
