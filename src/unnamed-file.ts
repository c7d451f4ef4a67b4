// Files that never have a name (Linux O_TMPFILE): no other process can open them by path, and
// nothing is left behind, whatever kills us.
import fs from 'node:fs';

// Not in fs.constants; O_TMPFILE includes O_DIRECTORY.
const O_TMPFILE = 0o20000000 | fs.constants.O_DIRECTORY;

/** A new empty file in `dir`, open read-write with `mode`; throws where the file system cannot. */
export function openUnnamedFile(dir: string, mode = 0o600): number {
  return fs.openSync(dir, O_TMPFILE | fs.constants.O_RDWR, mode);
}
