// The addon's SOCK_SEQPACKET sockets: datagrams, SCM_RIGHTS fds, EOF, cancellation, truncation.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPipe } from '../../src/proxy/pipes.js';
import { seqpacket } from '../../src/proxy/seqpacket.js';
import { leaksSince, snapshot } from '../helpers/process.js';

function pair() {
  const sp = seqpacket();
  const [a, b] = sp.socketpair();
  return [new sp.Socket(a), new sp.Socket(b)] as const;
}

describe('seqpacket', () => {
  it('keeps datagram boundaries and passes fds that Node streams can wrap', async () => {
    const before = snapshot();
    const [a, b] = pair();
    const tmp = fs.mkdtempSync('/tmp/ostree-container-sp-');
    // A pipe's read end, as the proxy sends: a FIFO with the data already written.
    const fifo = `${tmp}/fifo`;
    execFileSync('mkfifo', [fifo]);
    const pipeFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const writer = fs.openSync(fifo, 'w');
    fs.rmSync(tmp, { recursive: true });
    fs.writeSync(writer, 'payload');
    fs.closeSync(writer);
    a.send('{"first":1}', [pipeFd]);
    fs.closeSync(pipeFd);
    a.send(Buffer.from('second'));
    const m1 = await b.recv();
    const m2 = await b.recv();
    expect(m1?.data.toString()).toBe('{"first":1}');
    expect(m1?.fds).toHaveLength(1);
    expect(m2?.data.toString()).toBe('second');
    expect(m2?.fds).toEqual([]);
    expect((await readPipe(m1!.fds[0])).toString()).toBe('payload');
    a.close();
    expect(await b.recv()).toBeNull(); // peer closed
    b.close();
    expect(b.fd).toBe(-1);
    expect(await leaksSince(before)).toEqual({ fds: [], children: [] });
  });

  it('wakes a pending receive on close, and refuses a second one meanwhile', async () => {
    const [a, b] = pair();
    const pending = b.recv();
    expect(() => b.recv()).toThrow('recv: a receive is already pending');
    b.close();
    expect(await pending).toBeNull();
    expect(() => b.send('x')).toThrow('send: socket is closed');
    a.close();
  });

  it('reports oversized datagrams and a closed peer', async () => {
    const [a, b] = pair();
    a.send(Buffer.alloc(100));
    await expect(b.recv(10)).rejects.toThrow('recvmsg: datagram larger than 10 bytes');
    b.close();
    expect(() => a.send('x')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(EPIPE|ECONNRESET)$/) }));
    a.close();
  });

  it('the leak check sees a leaked fd', async () => {
    const before = snapshot();
    const [a, b] = seqpacket().socketpair();
    const leaks = await leaksSince(before);
    expect(leaks.fds).toHaveLength(2);
    fs.closeSync(a);
    fs.closeSync(b);
  });
});
