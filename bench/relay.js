// A distant registry for the pull benchmark: a TCP relay on 127.0.0.1 in front of TARGET that
// delays every byte by --delay-ms in each direction and caps each direction at --rate-mbit. The
// cap is one link shared by all connections, as a host's uplink is: bytes leave in order, each
// after the previous one is on the wire, and arrive --delay-ms later. A direction holds at most
// --queue-mib in flight; beyond that its senders are paused (TCP pushes back on them).
//
//   node bench/relay.js --target HOST:PORT [--delay-ms 20] [--rate-mbit 400] [--queue-mib 8]
//
// Prints the port it listens on, then relays until SIGTERM. Also a module: startRelay(opts).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** One direction of the link: a FIFO of deliveries, each due once its bytes crossed the wire. */
class Link {
  constructor({ delayMs, bytesPerMs, queueBytes }) {
    Object.assign(this, { delayMs, bytesPerMs, queueBytes });
    this.freeAt = 0; // when the wire is free for the next byte (performance.now() ms)
    this.queue = []; // { at, bytes, run }
    this.queued = 0;
    this.timer = null;
    this.paused = new Set(); // sockets paused because the link is full
  }

  /** Sends `bytes` (0 for a marker such as the end of a stream); `run` delivers them on arrival. */
  send(bytes, run, from) {
    const start = Math.max(performance.now(), this.freeAt);
    this.freeAt = start + bytes / this.bytesPerMs;
    this.queue.push({ at: this.freeAt + this.delayMs, bytes, run });
    this.queued += bytes;
    if (this.queued > this.queueBytes && from && !from.isPaused()) {
      from.pause();
      this.paused.add(from);
    }
    this.arm();
  }

  arm() {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.queue[0].at - performance.now()));
  }

  flush() {
    this.timer = null;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0].at <= now) {
      const d = this.queue.shift();
      this.queued -= d.bytes;
      d.run();
    }
    if (this.queued <= this.queueBytes / 2) {
      for (const s of this.paused) if (!s.destroyed) s.resume();
      this.paused.clear();
    }
    this.arm();
  }
}

/** Starts the relay; resolves to `{ port, close() }`. */
export function startRelay({ target, delayMs = 20, rateMbit = 400, queueMiB = 8, host = '127.0.0.1' }) {
  const [thost, tport] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const linkOpts = { delayMs, bytesPerMs: (rateMbit * 1e6) / 8 / 1000, queueBytes: queueMiB * 1024 * 1024 };
  const up = new Link(linkOpts);
  const down = new Link(linkOpts);
  const sockets = new Set();
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const remote = net.connect({ host: thost, port: tport });
    remote.setNoDelay(true);
    for (const s of [client, remote]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    const kill = () => {
      client.destroy();
      remote.destroy();
    };
    client.on('error', kill);
    remote.on('error', kill);
    // Connecting crosses the link too: the first bytes wait one round trip (SYN, SYN-ACK).
    remote.pause();
    client.pause();
    up.send(0, () => down.send(0, () => {
      client.resume();
      remote.resume();
    }));
    const pipe = (from, to, link) => {
      from.on('data', (b) => link.send(b.length, () => {
        if (!to.destroyed && !to.write(b) && !from.isPaused()) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      }, from));
      from.on('end', () => link.send(0, () => to.end()));
    };
    pipe(client, remote, up);
    pipe(remote, client, down);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const close = () => new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      });
      resolve({ port: server.address().port, close });
    });
  });
}

/** Runs the relay as its own process (so its work is not in the measured one); resolves to `{ host, stop() }`. */
export async function spawnRelay(opts) {
  const args = ['--target', opts.target, '--delay-ms', String(opts.delayMs ?? 20), '--rate-mbit', String(opts.rateMbit ?? 400)];
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('close', r));
  const port = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => reject(new Error(`bench/relay.js exited (${c}) before listening`)));
    child.stdout.setEncoding('utf8').once('data', (s) => resolve(Number(s.trim())));
  });
  return {
    host: `127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { target: { type: 'string' }, 'delay-ms': { type: 'string', default: '20' }, 'rate-mbit': { type: 'string', default: '400' }, 'queue-mib': { type: 'string', default: '8' } },
  });
  if (!values.target) throw new Error('usage: node bench/relay.js --target HOST:PORT [--delay-ms 20] [--rate-mbit 400] [--queue-mib 8]');
  const relay = await startRelay({ target: values.target, delayMs: Number(values['delay-ms']), rateMbit: Number(values['rate-mbit']), queueMiB: Number(values['queue-mib']) });
  process.stdout.write(`${relay.port}\n`);
  process.on('SIGTERM', () => relay.close().then(() => process.exit(0)));
}
