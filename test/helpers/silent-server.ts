// A registry that never answers: a TCP server on 127.0.0.1 that accepts connections and sends
// nothing, so a client waits until it is stopped (what an abort must do).
import { createServer, type AddressInfo, type Socket } from 'node:net';

/** Runs `fn` with the server's port; `onConnection` runs at each connection (e.g. to abort). */
export async function withSilentServer<T>(onConnection: () => void, fn: (port: number) => Promise<T>): Promise<T> {
  const held: Socket[] = [];
  const server = createServer((s) => {
    held.push(s);
    onConnection();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await fn((server.address() as AddressInfo).port);
  } finally {
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
