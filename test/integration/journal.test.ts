// journald's native protocol (src/journal.ts, native/util/journal.cc) against a stand-in socket:
// what a datagram carries, the sealed memfd of a big entry, values with newlines, no journal at all.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalSend, JournalPriority } from '../../src/journal.js';
import { journalReceiver, until } from '../helpers/journal.js';

describe('journalSend', () => {
  it('the native protocol: small entries as datagrams, a big one as a sealed memfd, multi-line values with their length', async () => {
    const j = await journalReceiver();
    process.env.OSTREE_CONTAINER_JOURNAL_SOCKET = j.socket;
    try {
      expect(journalSend(JournalPriority.Warning, 'two\nlines', { OSTREE_CONTAINER_TEST: 'x' })).toBe(true);
      const big = 'b'.repeat(512 * 1024);
      expect(journalSend(JournalPriority.Info, big)).toBe(true);
      await until(() => j.entries.length === 2);
      expect(j.entries[0]).toEqual({ fields: { MESSAGE: 'two\nlines', PRIORITY: '4', SYSLOG_IDENTIFIER: 'ostree-container', OSTREE_CONTAINER_TEST: 'x' }, memfd: false, seals: null });
      expect(j.entries[1]!.memfd).toBe(true);
      // F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
      expect(j.entries[1]!.seals).toBe(0xf);
      expect(j.entries[1]!.fields.MESSAGE).toBe(big);
    } finally {
      delete process.env.OSTREE_CONTAINER_JOURNAL_SOCKET;
      j.stop();
    }
    // No journal there: nothing sent, nothing thrown.
    process.env.OSTREE_CONTAINER_JOURNAL_SOCKET = path.join(path.dirname(j.socket), 'no-such-socket');
    try {
      expect(journalSend(JournalPriority.Info, 'lost')).toBe(false);
    } finally {
      delete process.env.OSTREE_CONTAINER_JOURNAL_SOCKET;
    }
  });
});
