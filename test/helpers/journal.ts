// A stand-in for journald's socket in tests: test/helpers/journal-receiver.py bound to a fresh
// path (OSTREE_CONTAINER_JOURNAL_SOCKET points the code there), its entries parsed as they arrive.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface JournalEntry {
  fields: Record<string, string>;
  memfd: boolean;
  seals: number | null;
}

/** Waits (up to 5 s) until `cond` holds. */
export async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
}

/** A stand-in journald socket (journal-receiver.py); `entries` fills as datagrams arrive. */
export async function journalReceiver(): Promise<{ socket: string; entries: JournalEntry[]; stop(): void }> {
  const socket = path.join(await mkdtemp(path.join(os.tmpdir(), 'journal-')), 'socket');
  const child = spawn('python3', [path.join(import.meta.dirname, 'journal-receiver.py'), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  const entries: JournalEntry[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`python3 is needed for the journal test: ${e.message}`)));
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
        const line = buf.slice(0, nl);
        if (line === 'ready') resolve();
        else entries.push(JSON.parse(line) as JournalEntry);
      }
    });
  });
  return {
    socket,
    entries,
    stop: () => {
      child.kill();
      void rm(path.dirname(socket), { recursive: true, force: true });
    },
  };
}
