// A derived layer of many empty files (issue 18's 400,000-entry case): a gzip tar of
// usr/share/d<k>/f<i>, `--per-dir` files per directory, no directory entries (libostree creates
// them), GNU headers as GNU tar writes them. Deterministic: the same options give the same bytes.
//   node bench/derived-entries.js OUT.tar.gz [--entries 400000] [--per-dir 1000]
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { entries: { type: 'string', default: '400000' }, 'per-dir': { type: 'string', default: '1000' } } });
const [out] = positionals;
if (!out) throw new Error('usage: node bench/derived-entries.js OUT.tar.gz [--entries N] [--per-dir N]');
const entries = Number(values.entries);
const perDir = Number(values['per-dir']);

function header(name) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write('00000000000\0', 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar  \0', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

const gz = createGzip({ level: 6 });
const done = gz.pipe(createWriteStream(out));
for (let i = 0; i < entries; i += 1000) {
  const block = [];
  for (let j = i; j < Math.min(entries, i + 1000); j++) block.push(header(`usr/share/d${Math.floor(j / perDir)}/f${j}`));
  if (!gz.write(Buffer.concat(block))) await once(gz, 'drain');
}
gz.end(Buffer.alloc(1024));
await once(done, 'finish');
