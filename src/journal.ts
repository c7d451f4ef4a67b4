// Messages to the systemd journal through its native protocol (datagrams of `KEY=value` fields on
// /run/systemd/journal/socket; native/util/journal.cc sends them). Where there is no journal the
// message goes nowhere, silently. OSTREE_CONTAINER_JOURNAL_SOCKET names another socket (tests).
import { native } from './native.js';

/** syslog priorities, as journald's PRIORITY field takes them. */
export enum JournalPriority {
  Error = 3,
  Warning = 4,
  Notice = 5,
  Info = 6,
  Debug = 7,
}

const DEFAULT_SOCKET = '/run/systemd/journal/socket';

/** The journal named by OSTREE_CONTAINER_JOURNAL_SOCKET, if any. */
export function explicitJournal(): boolean {
  return process.env.OSTREE_CONTAINER_JOURNAL_SOCKET !== undefined;
}

interface JournalNative {
  journalSend(socketPath: string, entry: Uint8Array): boolean;
}

/** One field in the native protocol: `KEY=value\n`, or with a newline in the value `KEY\n<u64 le length>value\n`. */
function field(key: string, value: string): Buffer {
  const v = Buffer.from(value, 'utf8');
  if (!v.includes(0x0a)) return Buffer.concat([Buffer.from(`${key}=`), v, Buffer.from('\n')]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(v.length));
  return Buffer.concat([Buffer.from(`${key}\n`), len, v, Buffer.from('\n')]);
}

/**
 * Sends `message` with `priority` and extra `fields` (upper-case journal field names); returns
 * whether a journal took it.
 */
export function journalSend(priority: JournalPriority, message: string, fields: Record<string, string> = {}): boolean {
  const entry = Buffer.concat([
    field('MESSAGE', message),
    field('PRIORITY', String(priority)),
    field('SYSLOG_IDENTIFIER', 'ostree-container'),
    ...Object.entries(fields).map(([k, v]) => field(k, v)),
  ]);
  return native<JournalNative>().journalSend(process.env.OSTREE_CONTAINER_JOURNAL_SOCKET ?? DEFAULT_SOCKET, entry);
}
