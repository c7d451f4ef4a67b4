// A FAKE skopeo image proxy, for what skopeo 1.9.3 cannot produce: newer protocol versions
// (GetLayerInfo, GetLayerInfoPiped, GetRawBlob) and malformed replies. It speaks the real wire
// format over fd 0 through the addon's seqpacket sockets. Behaviour comes from FAKE_PROXY_*:
//   FAKE_PROXY_VERSION  protocol version returned by Initialize (default 0.2.8)
//   FAKE_PROXY_BAD      how to break pipe replies: nopipeid | twofds | dualpipeid | onefd
//   FAKE_PROXY_POLICY   'reject': OpenImage fails as a policy-enforcing skopeo (protocol 0.2.6+)
//                       refuses an image its containers-policy.json rejects
//   FAKE_PROXY_LAYERS   how many layers GetLayerInfo(Piped) lists (default 1)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const require = createRequire(import.meta.url);
const { seqpacket } = require('node-gyp-build')(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..'));

const version = process.env.FAKE_PROXY_VERSION ?? '0.2.8';
const bad = process.env.FAKE_PROXY_BAD ?? '';
const policy = process.env.FAKE_PROXY_POLICY ?? '';
const sock = new seqpacket.Socket(0);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-proxy-'));
let fifoCount = 0;
const pipes = new Map(); // pipeid -> write fd

/** A pipe made from a FIFO: [readFd, writeFd]. */
function pipe() {
  const p = path.join(tmp, `fifo${fifoCount++}`);
  execFileSync('mkfifo', [p]);
  const r = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(p, 'w');
  fs.unlinkSync(p);
  return [r, w];
}

function reply(value, { pipeid = 0, fds = [], error } = {}) {
  const msg = { success: error === undefined, value, pipeid, error: error ?? '' };
  sock.send(JSON.stringify(msg), fds);
  for (const fd of fds) fs.closeSync(fd);
}

/** Replies with a pipe that already holds `data` (small enough for the pipe buffer). */
function replyPipe(value, data) {
  const [r, w] = pipe();
  fs.writeSync(w, data);
  if (bad === 'nopipeid') return reply(value, { fds: [r] }), fs.closeSync(w);
  if (bad === 'twofds') {
    const [r2, w2] = pipe();
    fs.closeSync(w2);
    return reply(value, { pipeid: w, fds: [r, r2] }), fs.closeSync(w);
  }
  pipes.set(w, w);
  reply(value, { pipeid: w, fds: [r] });
}

function replyDual(value, data, err) {
  const [r, w] = pipe();
  const [er, ew] = pipe();
  fs.writeSync(w, data);
  fs.closeSync(w);
  if (err) fs.writeSync(ew, typeof err === 'string' ? err : JSON.stringify(err));
  fs.closeSync(ew);
  if (bad === 'dualpipeid') return reply(value, { pipeid: 7, fds: [r, er] });
  if (bad === 'onefd') return fs.closeSync(er), reply(value, { fds: [r] });
  reply(value, { fds: [r, er] });
}

const layers = Array.from({ length: Number(process.env.FAKE_PROXY_LAYERS ?? 1) }, () => ({
  digest: 'sha256:' + 'a'.repeat(64),
  size: 5,
  media_type: 'application/vnd.oci.image.layer.v1.tar+gzip',
}));
const rawErrors = {
  'sha256:retryable': { code: 'retryable', message: 'foo' },
  'sha256:other': { code: 'other', message: 'bar' },
  'sha256:epipe': { code: 'EPIPE', message: 'write: broken pipe' },
  'sha256:blank': '\n',
};

for (;;) {
  const msg = await sock.recv(32 * 1024);
  if (!msg) break;
  const { method, args } = JSON.parse(msg.data.toString());
  switch (method) {
    case 'Initialize':
      reply(version);
      break;
    case 'OpenImage':
    case 'OpenImageOptional':
      // containers/image's PolicyRequirementError text for a `reject` requirement
      if (policy === 'reject') reply(null, { error: `Running image ${args[0]} is rejected by policy.` });
      else reply(args[0].includes('missing') ? 0 : 1);
      break;
    case 'CloseImage':
      reply(null);
      break;
    case 'GetManifest':
      replyPipe('sha256:' + 'b'.repeat(64), '{}');
      break;
    case 'GetFullConfig':
      replyPipe(null, '{}');
      break;
    case 'GetLayerInfo':
      if (args[0] !== 1) reply(null, { error: `invalid image ID ${args[0]}` });
      else reply(layers);
      break;
    case 'GetLayerInfoPiped':
      if (args[0] !== 1) reply(null, { error: `invalid image ID ${args[0]}` });
      else replyPipe(null, JSON.stringify(layers));
      break;
    case 'GetRawBlob':
      // The server's size is an int64; -1 means the source does not know it.
      replyDual(args[1] === 'sha256:unknownsize' ? -1 : 5, 'hello', rawErrors[args[1]]);
      break;
    case 'FinishPipe': {
      const w = pipes.get(args[0]);
      if (w === undefined) {
        reply(null, { error: `finishpipe: no active pipe ${args[0]}` });
        break;
      }
      fs.closeSync(w);
      pipes.delete(args[0]);
      reply(null);
      break;
    }
    case 'Shutdown':
      fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(0);
    default:
      reply(null, { error: `unknown method: ${method}` });
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
