// A plain-HTTP relay on 127.0.0.1 in front of a test registry that sends response bodies no faster
// than a given rate: a pull through it takes a known minimum time, whatever the machine's load,
// so what happens while a layer is in flight (progress samples) can be observed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Relay {
  /** `127.0.0.1:<port>` */
  host: string;
  close(): Promise<void>;
}

/** Passes bytes on in slices of at most 16 KiB, never ahead of `bytesPerSecond`. */
function throttle(bytesPerSecond: number): Transform {
  const start = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      void (async () => {
        for (let off = 0; off < chunk.length; off += 16 << 10) {
          const slice = chunk.subarray(off, off + (16 << 10));
          const due = start + ((sent + slice.length) / bytesPerSecond) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
          sent += slice.length;
          this.push(slice);
        }
        done();
      })().catch(done);
    },
  });
}

/** Starts a relay to the registry at `target` (`host:port`, plain HTTP). */
export async function startRelay(target: string, bytesPerSecond: number): Promise<Relay> {
  const [hostname, port] = target.split(':') as [string, string];
  const server = http.createServer((req, res) => {
    const up = http.request({ hostname, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(throttle(bytesPerSecond)).pipe(res);
    });
    up.on('error', (e) => res.destroy(e));
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${own}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
