// Where large temporary files (image layouts, extracted archives) go.

/**
 * `$TMPDIR` when set (podman's image copies make the same choice), else `/var/tmp`, upstream's
 * choice: on disk, where `/tmp` may be a small tmpfs.
 */
export function bigTempDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TMPDIR || '/var/tmp';
}
