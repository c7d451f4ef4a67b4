import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repo, escapeRef, prefixEscapeForRef, unescapeRef, unprefixUnescapeRef } from '../../src/index.js';

const run = promisify(execFile);

// libostree's own ref validation, two ways: in-process through the Repo binding
// (ostree_repo_resolve_rev parses the refspec first), and through the ostree CLI as an independent
// checker. A malformed name fails with "Invalid refspec"; a valid one is merely not found.
let repo: string;
let tmp: string;
let nativeRepo: Repo;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'refescape-'));
  repo = path.join(tmp, 'repo');
  execFileSync('ostree', [`--repo=${repo}`, 'init', '--mode=bare-user']);
  nativeRepo = await Repo.open(repo);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cliAcceptsRef(ref: string): Promise<boolean> {
  try {
    await run('ostree', [`--repo=${repo}`, 'rev-parse', ref]);
    return true;
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr);
    if (stderr.includes('Invalid refspec')) return false;
    if (stderr.includes('not found')) return true;
    throw e;
  }
}

async function addonAcceptsRef(ref: string): Promise<boolean> {
  try {
    await nativeRepo.resolveRev(ref, { allowNoent: true });
    return true;
  } catch (e) {
    if ((e as Error).message.includes('Invalid refspec')) return false;
    throw e;
  }
}

async function ostreeAcceptsRef(ref: string): Promise<boolean> {
  const [viaAddon, viaCli] = await Promise.all([addonAcceptsRef(ref), cliAcceptsRef(ref)]);
  expect(viaAddon, `addon and CLI disagree on ${ref}`).toBe(viaCli);
  return viaAddon;
}

describe('escapeRef / unescapeRef (spec store §1.2)', () => {
  it('leaves plain refs unchanged', async () => {
    for (const s of ['foo', 'foo/bar/baz-blah/foo']) {
      expect(escapeRef(s)).toBe(s);
      expect(unescapeRef(s)).toBe(s);
      expect(await ostreeAcceptsRef(s)).toBe(true);
    }
  });

  it('round-trips the upstream vectors under a prefix, as refs libostree accepts', async () => {
    const prefix = 'testprefix/blah';
    for (const s of [
      'localhost:5000/foo:latest',
      'fedora/x86_64/coreos',
      '/foo/bar/foo.oci-archive',
      '/foo/bar/foo.docker-archive',
      'docker://quay.io/exampleos/blah:latest',
      'oci-archive:/path/to/foo.ociarchive',
      'docker-archive:/path/to/foo.dockerarchive',
      '/',
      'blah/',
      '/foo/',
    ]) {
      const ref = prefixEscapeForRef(prefix, s);
      expect(await ostreeAcceptsRef(ref), ref).toBe(true);
      expect(unprefixUnescapeRef(prefix, ref)).toBe(s);
    }
  });

  it('matches the explicit vectors', () => {
    expect(escapeRef('localhost:5000/foo:latest')).toBe('localhost_3A_5000/foo_3A_latest');
    const ref = prefixEscapeForRef('container', 'registry:quay.io/coreos/fedora:latest');
    expect(ref).toBe('container/registry_3A_quay_2E_io/coreos/fedora_3A_latest');
    expect(unprefixUnescapeRef('container', ref)).toBe('registry:quay.io/coreos/fedora:latest');
    expect(prefixEscapeForRef('ostree/container/blob', 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae')).toBe(
      'ostree/container/blob/sha256_3A_2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae',
    );
    expect(prefixEscapeForRef('ostree/container/image', 'docker://quay.io/exampleos/blah:latest')).toBe(
      'ostree/container/image/docker_3A__2F__2F_quay_2E_io/exampleos/blah_3A_latest',
    );
  });

  it.each([
    ['fedora/x86_64/coreos', 'fedora/x86__64/coreos'],
    ['/', '_2F_'],
    ['blah/', 'blah_2F_'],
    ['/foo/', '_2F_foo_2F_'],
    ['a//b', 'a/_2F_b'],
    ['/foo/bar/foo.oci-archive', '_2F_foo/bar/foo_2E_oci-archive'],
    ['oci:/var/tmp/derived.oci', 'oci_3A__2F_var/tmp/derived_2E_oci'],
    ['containers-storage:localhost/someimage:blah', 'containers-storage_3A_localhost/someimage_3A_blah'],
    ['foo_bar', 'foo__bar'],
    ['é', '_E9_'],
    ['\u{1F600}', '_1F600_'],
    ['\t', '_09_'],
  ])('escape(%j) = %j', (input, escaped) => {
    expect(escapeRef(input)).toBe(escaped);
    expect(unescapeRef(escaped)).toBe(input);
  });

  it('keeps the a/-b quirk: output unchanged, and libostree rejects it', async () => {
    expect(escapeRef('a/-b')).toBe('a/-b');
    expect(await ostreeAcceptsRef('a/-b')).toBe(false);
  });

  it('rejects what cannot be a ref', () => {
    expect(() => escapeRef('')).toThrow(new Error('Invalid empty string for ref'));
    expect(() => escapeRef('a\0b')).toThrow(new Error('Invalid embedded NUL in string for ostree ref'));
    expect(() => escapeRef('a\ud800b')).toThrow(new Error('Invalid lone surrogate in string for ostree ref'));
    expect(() => escapeRef('a\udfffb')).toThrow(new Error('Invalid lone surrogate in string for ostree ref'));
  });

  it('unescape errors and leniencies', () => {
    expect(() => unescapeRef('a.b')).toThrow(new Error('Invalid character .'));
    expect(() => unescapeRef('a_zz_')).toThrow(new Error('invalid digit found in string'));
    expect(() => unescapeRef('_1FFFFFFFF_')).toThrow(new Error('number too large to fit in target type'));
    expect(() => unescapeRef('_D800_')).toThrow(new Error('converted integer out of range for `char`'));
    expect(() => unescapeRef('_110000_')).toThrow(new Error('converted integer out of range for `char`'));
    // The edges of Rust's u32::from_str_radix + char::try_from: a leading `+` only, whole-string
    // hex digits, the largest u32, the last code point, both ends of the surrogate range.
    expect(unescapeRef('_+41_')).toBe('A');
    expect(() => unescapeRef('_41+_')).toThrow(new Error('invalid digit found in string'));
    expect(() => unescapeRef('_x41_')).toThrow(new Error('invalid digit found in string'));
    expect(() => unescapeRef('_41x_')).toThrow(new Error('invalid digit found in string'));
    expect(() => unescapeRef('_FFFFFFFF_')).toThrow(new Error('converted integer out of range for `char`'));
    expect(() => unescapeRef('_100000000_')).toThrow(new Error('number too large to fit in target type'));
    expect(unescapeRef('_10FFFF_')).toBe('\u{10ffff}');
    expect(unescapeRef('_D7FF__E000_')).toBe('\ud7ff\ue000');
    expect(() => unescapeRef('_DFFF_')).toThrow(new Error('converted integer out of range for `char`'));
    expect(unescapeRef('abc_')).toBe('abc'); // a lone trailing `_` is dropped
    expect(unescapeRef('a_41')).toBe('aA'); // an unterminated escape runs to the end
  });

  it('unprefixUnescapeRef keeps upstream\'s swapped message', () => {
    expect(() => unprefixUnescapeRef('ostree/container/image', 'other/foo')).toThrow(
      new Error('ref does not match expected prefix other/foo/: ostree/container/image'),
    );
  });
});

describe('refescape properties', () => {
  const arbInput = fc.string({ minLength: 1, unit: fc.oneof(fc.constantFrom('/', '_', '-', ':', '.', '@'), fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' })) }).filter((s) => !s.includes('\0'));

  it('unescape(escape(s)) == s', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, unit: 'grapheme' }).filter((s) => !s.includes('\0')), (s) => unescapeRef(escapeRef(s)) === s), { numRuns: 2000 });
    fc.assert(fc.property(arbInput, (s) => unescapeRef(escapeRef(s)) === s), { numRuns: 2000 });
  });

  it('every escaped ref whose components do not start with "-" passes libostree validation', async () => {
    const check = async (s: string, accepts: (ref: string) => Promise<boolean>) => {
      const ref = prefixEscapeForRef('ostree/container/image', s);
      // Only the documented quirk may make libostree refuse an escaped ref.
      const quirk = ref.split('/').some((c) => c.startsWith('-'));
      expect(await accepts(ref), ref).toBe(!quirk);
    };
    // In-process libostree is cheap: many cases. Addon and CLI together (a process per case): fewer.
    await fc.assert(fc.asyncProperty(arbInput, (s) => check(s, addonAcceptsRef)), { numRuns: 1000 });
    await fc.assert(fc.asyncProperty(arbInput, (s) => check(s, ostreeAcceptsRef)), { numRuns: 60 });
  });
});
