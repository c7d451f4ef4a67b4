// Where large temporary files (image layouts, extracted archives) go.

/**
 * `$TMPDIR` when set, else `/var/tmp` (on disk, where `/tmp` may be a small tmpfs). skopeo's
 * containers/image makes the same choice for its own big temporary files.
 */
export function bigTempDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TMPDIR || '/var/tmp';
}
