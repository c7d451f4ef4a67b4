import { native } from './native.js';

/** Human-readable size exactly as GLib's g_format_size (decimal units, no-break space). */
export function formatSize(bytes: number | bigint): string {
  return native().formatSize(bytes);
}
