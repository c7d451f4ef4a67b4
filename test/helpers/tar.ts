// The one tar builder of the tests: well-formed layer tars written by tar-stream (ustar, PAX
// records where a name or a record needs them). Crafted, malformed tars are made by editing parsed
// entries byte by byte instead (test/integration/tar-util.ts).
import { pack } from 'tar-stream';

export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Unix seconds (default 0: "unmodified" to the object-store hardlink rules). */
  mtime?: number;
  linkname?: string;
  pax?: Record<string, string>;
}

/**
 * A tar of `entries` in order; a record `{ name: contents }` is a list of regular files. Defaults:
 * owner 0:0, mtime 0, mode 0644 (directories 0755, symlinks 0777).
 */
export async function layerTar(entries: LayerEntry[] | Record<string, string | Buffer>): Promise<Buffer> {
  const list: LayerEntry[] = Array.isArray(entries) ? entries : Object.entries(entries).map(([name, data]) => ({ name, data }));
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const e of list) {
    const type = e.type ?? 'file';
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    p.entry(
      {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: new Date((e.mtime ?? 0) * 1000),
        linkname: e.linkname,
        pax: e.pax,
        size: data.length,
      },
      data,
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
