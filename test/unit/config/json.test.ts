import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigJson, parseConfigText } from '../../../src/config';
import { idFiles, messages, printed } from './helpers';

const parse = (text: string) => parseConfigJson(text, 'test.json', { idFiles });
const cfg = (text: string) => parse(text).config;

describe('ProtoJSON configs', () => {
  it('accepts ProtoJSON names and the original field names', () => {
    const c = cfg('{"timeLimit": 3, "mount": [{"src": "/usr", "dst": "/usr", "isBind": true}, {"dst": "/tmp", "is_bind": false, "fstype": "tmpfs"}], "keep_env": true}');
    expect(c.timeLimit).toBe(3);
    expect(c.keepEnv).toBe(true);
    expect(c.mount[0]).toMatchObject({ src: '/usr', isBind: true });
    expect(c.mount[1]).toMatchObject({ dst: '/tmp', fstype: 'tmpfs', isBind: false });
  });

  it('reads enums as names or numbers and 64-bit integers as numbers or strings', () => {
    const c = cfg('{"mode": 3, "rlimitAsType": "INF", "rlimitFsize": "8192", "cgroupMemSwapMax": "-1", "rlimitNofile": 1e2, "niceLevel": 5.0}');
    expect(c.mode).toBe('EXECVE');
    expect(c.rlimitAsType).toBe('INF');
    expect(c.rlimitFsize).toBe(8192);
    expect(c.cgroupMemSwapMax).toBe(-1);
    expect(c.rlimitNofile).toBe(100);
    expect(c.niceLevel).toBe(5);
  });

  it('decodes bytes as base64, both alphabets, padding optional', () => {
    expect([...cfg('{"mount": [{"dst": "/f", "srcContent": "aGk/Pz8+"}]}').mount[0].srcContent!]).toEqual([...Buffer.from('hi???>')]);
    expect([...cfg('{"mount": [{"dst": "/f", "srcContent": "aGk_Pz8-"}]}').mount[0].srcContent!]).toEqual([...Buffer.from('hi???>')]);
    expect([...cfg('{"mount": [{"dst": "/f", "srcContent": "aGk"}]}').mount[0].srcContent!]).toEqual([...Buffer.from('hi')]);
    expect(messages(() => parse('{"mount": [{"dst": "/f", "srcContent": "not base64!"}]}'))).toEqual([
      'mount[0].src_content: is not valid base64 (ProtoJSON encodes bytes fields as base64), got "not base64!"',
    ]);
  });

  it('treats null as unset', () => {
    const l = parse('{"hostname": null, "envar": null, "execBin": null}');
    expect(l.config.hostname).toBe('NSJAIL');
    expect(l.config.execBin).toBeUndefined();
    expect(l.setFields.has('hostname')).toBe(false);
  });

  it('gives the same config as the text form', () => {
    const text = parseConfigText('mode: ONCE\nmount { src: "/" dst: "/" is_bind: true }\nenvar: "A=1"\ntime_limit: 9', 't.cfg').config;
    const json = cfg('{"mode": "ONCE", "mount": [{"src": "/", "dst": "/", "isBind": true}], "envar": ["A=1"], "timeLimit": 9}');
    expect(json).toEqual(text);
  });

  it('records spans of keys and values', () => {
    const l = parse('{\n  "timeLimit": 3,\n  "envar": ["A",\n    "B"]\n}');
    expect(l.spans.get('time_limit')).toEqual({ file: 'test.json', line: 2, col: 3, length: 14, lineText: '  "timeLimit": 3,' });
    expect(l.spans.get('envar.1')).toMatchObject({ line: 4, col: 5, length: 3 });
  });

  it('reports schema errors all at once, with carets', () => {
    const text = '{\n  "timeLimit": "abc",\n  "isBind": true,\n  "mount": [{"dst": "/", "isBind": "yes"}],\n  "keepEnv": 1,\n  "mode": "FOO"\n}';
    expect(printed(() => parse(text))).toMatchInlineSnapshot(`
      "test.json:2:16: time_limit: expected uint32, got "abc"
          "timeLimit": "abc",
                       ^^^^^
      test.json:3:3: NsJailConfig has no field named "isBind"
          "isBind": true,
          ^^^^^^^^
      test.json:4:36: mount[0].is_bind: expected bool (true or false), got "yes"
          "mount": [{"dst": "/", "isBind": "yes"}],
                                           ^^^^^
      test.json:5:14: keep_env: expected bool (true or false), got 1
          "keepEnv": 1,
                     ^
      test.json:6:11: mode: unknown Mode value "FOO"; expected one of LISTEN, ONCE, RERUN, EXECVE (or 0..3)
          "mode": "FOO"
                  ^^^^^"
    `);
  });

  it('rejects duplicate keys, also between the two spellings', () => {
    expect(messages(() => parse('{"timeLimit": 1, "time_limit": 2}'))).toEqual(['time_limit: set more than once (first set on line 1); it is not a repeated field']);
    expect(messages(() => parse('{"envar": ["a"], "envar": ["b"]}'))).toEqual(['envar: set more than once (first set on line 1); it is not a repeated field']);
  });

  it('checks JSON value types strictly', () => {
    expect(messages(() => parse('{"keepEnv": "true"}'))).toEqual(['keep_env: expected bool (true or false), got "true"']);
    expect(messages(() => parse('{"timeLimit": 1.5}'))).toEqual(['time_limit: expected uint32, got 1.5']);
    expect(messages(() => parse('{"timeLimit": [1]}'))).toEqual(['time_limit: is not a repeated field, so it cannot take a list [...]']);
    expect(messages(() => parse('{"envar": [["a"]]}'))).toEqual(['envar[0]: expected string, got a list [...]']);
    expect(messages(() => parse('{"envar": [null]}'))).toEqual(['envar[0]: expected string, got null']);
    expect(messages(() => parse('{"execBin": "/bin/sh"}'))).toEqual(['exec_bin: expected a message { ... }, got "/bin/sh"']);
    expect(messages(() => parse('{"hostName": "x"}'))).toEqual([`NsJailConfig has no field named "hostName" (did you mean 'hostname'?)`]);
    expect(messages(() => parse('{"timeLimt": 1}'))).toEqual([`NsJailConfig has no field named "timeLimt" (did you mean 'timeLimit'?)`]);
    expect(messages(() => parse('{"chroot": "/"}'))).toEqual(['NsJailConfig has no field named "chroot"']);
  });

  it('reports JSON syntax errors with a position', () => {
    expect(printed(() => parse('{\n  "timeLimit": 3,\n}'))).toMatchInlineSnapshot(`
      "test.json:3:1: expected a "key" in the object, got '}'
        }
        ^"
    `);
    expect(printed(() => parse('[1, 2]'))).toMatchInlineSnapshot(`
      "test.json:1:1: a JSON config must be an object { ... }
        [1, 2]
        ^^^^^^"
    `);
    expect(messages(() => parse('{"a": tru}'))).toEqual(["expected a JSON value, got 't'"]);
    expect(messages(() => parse('{"a": "x\\q"}'))).toEqual(['invalid escape \\q in JSON string']);
    expect(messages(() => parse('{"a": "x'))).toEqual(['unterminated string']);
    expect(messages(() => parse('{"a": 1} x'))).toEqual(["unexpected 'x' after the end of the JSON document"]);
    expect(messages(() => parse('{"a" 1}'))).toEqual([`expected ':' after "a", got '1'`]);
    expect(messages(() => parse('{"a": [1 2]}'))).toEqual(["expected ',' or ']' in the array, got '2'"]);
    expect(messages(() => parse('{"a": "\u0001"}'))).toEqual(['control characters must be escaped in JSON strings']);
    expect(cfg('{"hostname": "\\u00e9\\n\\/"}').hostname).toBe('é\n/');
  });
});

describe('text or JSON', () => {
  it('chooses by the first non-blank character, as nsjail would by trying both', () => {
    expect(loadConfig('  \n {"timeLimit": 4}').config.timeLimit).toBe(4);
    expect(loadConfig('time_limit: 4').config.timeLimit).toBe(4);
    expect(loadConfig('').config.timeLimit).toBe(600);
    expect(messages(() => loadConfig('# comment\n{"timeLimit": 4}'))).toEqual(["expected a field name, got '{'"]);
  });
});
