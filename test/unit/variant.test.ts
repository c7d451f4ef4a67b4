// GVariant <-> JS mapping (native/util/variant.cc): types kept, bytes reproduced exactly,
// clear errors naming the path of a bad value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { variant, variantFromBytes, variantIsNormal, variantPrint, variantToBytes, type TypedVariant } from '../../src/index.js';

function roundTrip(v: TypedVariant): TypedVariant {
  return variantFromBytes(v.type, variantToBytes(v));
}

describe('variant mapping', () => {
  it('maps every basic type to its documented JS type', () => {
    const cases: [TypedVariant, unknown][] = [
      [variant('b', true), true],
      [variant('y', 255), 255],
      [variant('n', -32768), -32768],
      [variant('q', 65535), 65535],
      [variant('i', -2147483648), -2147483648],
      [variant('u', 4294967295), 4294967295],
      [variant('h', 3), 3],
      [variant('d', 0.1), 0.1],
      [variant('x', -9223372036854775808n), -9223372036854775808n],
      [variant('t', 18446744073709551615n), 18446744073709551615n],
      [variant('s', 'héllo'), 'héllo'],
      [variant('o', '/a/b'), '/a/b'],
      [variant('g', 'a{sv}'), 'a{sv}'],
    ];
    for (const [v, plain] of cases) expect(roundTrip(v)).toEqual({ type: v.type, value: plain });
  });

  it('ay is a Buffer; v nests a typed value; maybes are null or the value', () => {
    const ay = roundTrip(variant('ay', new Uint8Array([1, 2, 0])));
    expect(Buffer.isBuffer(ay.value)).toBe(true);
    expect([...(ay.value as Buffer)]).toEqual([1, 2, 0]);
    expect(roundTrip(variant('v', variant('as', ['a', 'b'])))).toEqual(variant('v', variant('as', ['a', 'b'])));
    expect(roundTrip(variant('mi', null)).value).toBeNull();
    expect(roundTrip(variant('mi', 5)).value).toBe(5);
    expect(roundTrip(variant('(is)', [1, 'x'])).value).toEqual([1, 'x']);
    expect(roundTrip(variant('{si}', ['k', 1])).value).toEqual(['k', 1]);
  });

  it('a{KV} is a Map in serialized order (not sorted), also from a plain object', () => {
    const m = new Map([
      ['zeta', variant('s', 'last-alphabetically')],
      ['alpha', variant('b', false)],
    ]);
    const back = roundTrip(variant('a{sv}', m));
    expect(back.value).toBeInstanceOf(Map);
    expect([...(back.value as Map<string, unknown>).keys()]).toEqual(['zeta', 'alpha']);
    const fromObject = variantToBytes(variant('a{sv}', { zeta: variant('s', 'last-alphabetically'), alpha: variant('b', false) } as never));
    expect(fromObject.equals(variantToBytes(variant('a{sv}', m)))).toBe(true);
    const intKeys = roundTrip(variant('a{ys}', new Map([[2, 'b'], [1, 'a']])));
    expect([...(intKeys.value as Map<number, string>)]).toEqual([[2, 'b'], [1, 'a']]);
  });

  it('serializes exactly as GLib does (known vectors)', () => {
    // 'hi': 68 69 00; (uint32 1, true): 01 00 00 00 01 + padding to 4; as ['a']: 61 00 + offset 02
    expect(variantToBytes(variant('s', 'hi')).toString('hex')).toBe('686900');
    expect(variantToBytes(variant('(ub)', [1, true])).toString('hex')).toBe('0100000001000000');
    expect(variantToBytes(variant('as', ['a'])).toString('hex')).toBe('610002');
    expect(variantPrint(variant('a{sv}', new Map([['k', variant('t', 5n)]])))).toBe("{'k': <uint64 5>}");
    expect(variantPrint(variant('as', ['/usr/bin/bash']), true)).toBe("['/usr/bin/bash']");
  });

  it('accepts safe-integer numbers for x and t', () => {
    expect(roundTrip(variant('t', 872879442)).value).toBe(872879442n);
    expect(roundTrip(variant('x', -1)).value).toBe(-1n);
  });

  it('reports the path and the mismatch', () => {
    const meta = new Map([['version', variant('s', 42 as never)]]);
    expect(() => variantToBytes(variant('a{sv}', meta))).toThrow("value.version: expected a string for type 's', got number");
    expect(() => variantToBytes(variant('as', ['a', 1 as never]))).toThrow("value[1]: expected a string for type 's', got number");
    expect(() => variantToBytes(variant('y', 256))).toThrow(RangeError);
    expect(() => variantToBytes(variant('u', 1.5))).toThrow(/not a valid 'u' integer/);
    expect(() => variantToBytes(variant('t', -1n))).toThrow(/out of range/);
    expect(() => variantToBytes(variant('(ii)', [1]))).toThrow("value: expected 2 items for type '(ii)', got 1");
    expect(() => variantToBytes(variant('o', 'not a path'))).toThrow(/not a valid object path/);
    expect(() => variantToBytes(variant('s', 'a\0b'))).toThrow(/NUL/);
    expect(() => variantToBytes(variant('v', 'untyped' as never))).toThrow(/expected a typed value/);
    expect(() => variantToBytes({ type: 'a{', value: [] })).toThrow(/invalid GVariant type string/);
    expect(() => variantToBytes({ type: '*', value: 1 })).toThrow(/not definite/);
  });

  it('tells normal from non-normal serialized data', () => {
    expect(variantIsNormal('b', Buffer.from([1]))).toBe(true);
    expect(variantIsNormal('b', Buffer.from([2]))).toBe(false);
    expect(variantIsNormal('s', Buffer.from('no-nul'))).toBe(false);
  });

  it('round-trips arbitrary commit-style metadata byte for byte', () => {
    const leaf = fc.oneof(
      fc.string().filter((s) => !s.includes('\0')).map((s) => variant('s', s)),
      fc.boolean().map((b) => variant('b', b)),
      fc.integer({ min: -2147483648, max: 2147483647 }).map((n) => variant('i', n)),
      fc.bigInt({ min: 0n, max: 18446744073709551615n }).map((n) => variant('t', n)),
      fc.uint8Array({ maxLength: 40 }).map((a) => variant('ay', Buffer.from(a))),
      fc.array(fc.string().filter((s) => !s.includes('\0')), { maxLength: 4 }).map((a) => variant('as', a)),
      fc.double({ noNaN: true }).map((d) => variant('d', d)),
    );
    const dict = fc
      .uniqueArray(fc.tuple(fc.string({ minLength: 1 }).filter((s) => !s.includes('\0')), leaf), {
        selector: ([k]) => k,
        maxLength: 8,
      })
      .map((entries) => variant('a{sv}', new Map(entries)));
    fc.assert(
      fc.property(dict, (d) => {
        const bytes = variantToBytes(d);
        const back = variantFromBytes('a{sv}', bytes);
        expect(variantToBytes(back).equals(bytes)).toBe(true);
        expect(variantIsNormal('a{sv}', bytes)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
