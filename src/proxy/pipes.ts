// Pipe fds handed over by the proxy, read through libuv (epoll), never through the thread pool.
import net from 'node:net';
import type { Readable } from 'node:stream';

/** Wraps the read end of a pipe as a stream; the stream owns (and finally closes) the fd. */
export function pipeReadable(fd: number): Readable {
  return new net.Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
}

/** Reads a pipe to EOF and closes it. */
export async function readPipe(fd: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of pipeReadable(fd)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
