// What a test process holds: open fds and child processes (zombies included), to prove that
// failures leave nothing behind.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterEach, beforeEach, expect } from 'vitest';
import { native } from '../../src/native.js';

/** Open fds of this process, as `fd -> target`. */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      out.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // the fd used by readdir itself is gone by now
    }
  }
  return out;
}

/** Pids (with state, e.g. `Z` for a zombie) whose parent is this process. */
export function childProcesses(): string[] {
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid …; comm may contain spaces and parentheses
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === process.pid) out.push(`${name} ${rest[0]} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}`);
  }
  return out.sort();
}

export interface Snapshot {
  fds: Map<number, string>;
  children: string[];
}

export function snapshot(): Snapshot {
  native(); // loaded first: the addon's own fd (the proxy receives' epoll) is the process's, not a leak
  return { fds: openFds(), children: childProcesses() };
}

/** Fds and children present now but not in `before` (after letting pending closes run). */
export async function leaksSince(before: Snapshot): Promise<{ fds: string[]; children: string[] }> {
  // Stream and child 'close' handlers run on later ticks; give them a moment.
  for (let i = 0; i < 50; i++) {
    const now = snapshot();
    const fds = [...now.fds].filter(([fd, t]) => before.fds.get(fd) !== t).map(([fd, t]) => `${fd} -> ${t}`);
    const children = now.children.filter((c) => !before.children.includes(c));
    if ((fds.length === 0 && children.length === 0) || i === 49) return { fds, children };
    await new Promise((r) => setTimeout(r, 20));
  }
  return { fds: [], children: [] };
}

/** Registers hooks that fail each test of the file that leaves an fd or a child process behind. */
export function expectNoLeaksAfterEach(): void {
  let before: Snapshot;
  beforeEach(() => {
    before = snapshot();
  });
  afterEach(async () => {
    expect(await leaksSince(before)).toEqual({ fds: [], children: [] });
  });
}
