// The `--contentmeta` document from the user: its order-preserving JSON reader (every token kind,
// whitespace, nesting, each malformed case with its offset), the document's fields, and the
// sized content sources upstream's JSON layout gives.
import { describe, expect, it } from 'vitest';
import { contentMetaToSized, parseContentMetaFile, parseObjectSourceMetaSized } from '../../src/container/chunking.js';

const minimal = (extra = '') => `{"version":1,"layers":{"a":"A"},"mapping":{"x":"a"}${extra}}`;

describe('content-meta JSON', () => {
  it('reads every JSON token kind with any whitespace, keeping key order', () => {
    const text = ` \t\r\n{ "version" : 1 , "layers" : { "9" : "nine" , "1" : "o\\u006ee\\n\\"\\\\\\/" } ,
      "mapping" : { } , "labels" : {"k":"v"} , "created" : "2024-01-01T00:00:00Z" , "ordered" : false ,
      "extra" : [ 1 , -2.5e+3 , 0.5E-1 , 3e2 , true , null , [ ] , { } , "s" ] , "empty" : [] } \n`;
    const f = parseContentMetaFile(text);
    expect(f).toEqual({ version: 1, created: '2024-01-01T00:00:00Z', labels: { k: 'v' }, layers: [['9', 'nine'], ['1', 'one\n"\\/']], mapping: [], ordered: false });
    expect(Object.keys(f)).toEqual(['version', 'created', 'labels', 'layers', 'mapping', 'ordered']);
    expect(parseContentMetaFile(minimal())).toEqual({ version: 1, layers: [['a', 'A']], mapping: [['x', 'a']] });
    expect(Object.keys(parseContentMetaFile(minimal()))).toEqual(['version', 'layers', 'mapping']);
  });

  it('refuses malformed JSON naming the fault and its offset', () => {
    const bad: [string, string][] = [
      ['', 'unexpected token at offset 0'],
      ['{"version":1,', 'bad string at offset 13'],
      ['{"version" 1}', "expected ':' at offset 12"],
      ['{"version":1 "x":2}', "expected ',' or '}' at offset 14"],
      ['{"a":[1 2]}', "expected ',' or ']' at offset 9"],
      ['{"a":[1,]}', 'unexpected token at offset 8'],
      ['{"a":tru}', 'unexpected token at offset 5'],
      ['{"a":01}', "expected ',' or '}' at offset 7"],
      ['{"a":1.}', "expected ',' or '}' at offset 7"],
      ['{"a":1e}', "expected ',' or '}' at offset 7"],
      ['{"a":"\\x"}', 'bad string at offset 5'],
      ['{"a":"\\u12g4"}', 'bad string at offset 5'],
      ['{"a":"tab\there"}', 'bad string at offset 5'],
      ['{"a":"open}', 'bad string at offset 5'],
      ['{"version":1} x', 'trailing data at offset 14'],
      ['{"version":1}}', 'trailing data at offset 13'],
      // A token is read where it starts, not where a later one would match.
      ['{x"a":1}', 'bad string at offset 1'],
      ['{"a":x1}', 'unexpected token at offset 5'],
    ];
    for (const [text, msg] of bad) expect(() => parseContentMetaFile(text), text).toThrow(`Invalid content metadata JSON: ${msg}`);
  });

  it('refuses documents without the fields it needs, of the wrong types', () => {
    const bad: [string, string][] = [
      ['{}', 'missing numeric "version"'],
      ['{"version":"1"}', 'missing numeric "version"'],
      ['null', 'expected a JSON object'],
      ['"x"', 'expected a JSON object'],
      [minimal(',"created":5'), '"created" must be a string'],
      [minimal(',"ordered":"yes"'), '"ordered" must be a boolean'],
      [minimal(',"labels":[]'), '"labels" must be an object of strings'],
      [minimal(',"labels":null'), '"labels" must be an object of strings'],
      ['{"version":1,"layers":{"a":"A"}}', '"mapping" must be an object of strings'],
      ['{"version":1,"layers":{"a":"A"},"mapping":{"x":null}}', '"mapping" must be an object of strings'],
    ];
    for (const [text, msg] of bad) expect(() => parseContentMetaFile(text), text).toThrow(`Invalid content metadata: ${msg}`);
    // Every digit of a fraction and of an exponent is the number's.
    for (const [v, shown] of [['1.25', '1.25'], ['1e10', '10000000000'], ['1E+10', '10000000000']]) {
      expect(() => parseContentMetaFile(`{"version":${v}}`)).toThrow(`Unsupported metadata version: ${shown}. Currently supported: 1`);
    }
  });

  it('gives one sized source per layer entry, without created when the file has none', () => {
    const r = contentMetaToSized(parseContentMetaFile(minimal()));
    expect(r).toEqual({
      meta: { map: new Map([['x', 'a']]), sizes: [{ identifier: 'a', name: 'A', srcid: 'a', change_time_offset: 1, change_frequency: 1, size: 1 }] },
      maxLayers: 2,
      labels: new Map(),
    });
    expect('created' in r).toBe(false);
    expect(contentMetaToSized(parseContentMetaFile(minimal(',"ordered":false'))).maxLayers).toBe(2);
  });
});

describe('sized content sources', () => {
  const good = { identifier: 'i', name: 'n', srcid: 's', change_time_offset: 0, change_frequency: 3, size: 9, extra: 1 };
  it('keeps the six fields of a valid source', () => {
    expect(parseObjectSourceMetaSized(good)).toEqual({ identifier: 'i', name: 'n', srcid: 's', change_time_offset: 0, change_frequency: 3, size: 9 });
  });
  it('refuses anything else naming the field', () => {
    for (const v of [null, 'x', 3, undefined]) expect(() => parseObjectSourceMetaSized(v)).toThrow(/^Invalid content source: expected an object$/);
    for (const k of ['identifier', 'name', 'srcid']) {
      expect(() => parseObjectSourceMetaSized({ ...good, [k]: 1 })).toThrow(new RegExp(`^Invalid content source: missing string '${k}'$`));
    }
    for (const k of ['change_time_offset', 'change_frequency', 'size']) {
      for (const bad of ['1', -1, 1.5, 2 ** 53]) {
        expect(() => parseObjectSourceMetaSized({ ...good, [k]: bad })).toThrow(new RegExp(`^Invalid content source i: '${k}' must be a non-negative integer$`));
      }
    }
  });
});
