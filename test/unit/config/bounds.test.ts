/**
 * Bounds the addon enforces (native/prepare.cc) are enforced first by the config stage, in the
 * user's words: the field or flag, the value, what is accepted. The planner's own list bounds
 * are in test/unit/sandbox/limits.test.ts; test/native/core/plan-bounds.test.ts feeds accepted
 * configs to the real addon.
 */
import { describe, expect, it } from 'vitest';
import { configFromObject, parseConfigJson, parseConfigText } from '../../../src/config';
import { fromFlags } from '../../helpers/config';
import { idFiles, messages, printed } from './helpers';

const parse = (text: string) => parseConfigText(text, 'test.cfg', { idFiles });

describe('nice_level', () => {
  it('accepts -20..19 from files, flags and objects', () => {
    for (const n of [-20, 0, 19]) {
      expect(parse(`nice_level: ${n}`).config.niceLevel).toBe(n);
      expect(fromFlags(['--nice_level', String(n), '--', '/bin/true']).loaded.config.niceLevel).toBe(n);
      expect(configFromObject({ nice_level: n }).config.niceLevel).toBe(n);
    }
  });

  it('refuses values outside -20..19, pointing at the line or the flag', () => {
    expect(printed(() => parse('time_limit: 1\nnice_level: 100\n'))).toBe(
      [
        'test.cfg:2:13: nice_level: 100 is out of range: nice_level is -20 (highest priority) .. 19 (lowest)',
        '  nice_level: 100',
        '              ^^^',
      ].join('\n'),
    );
    expect(messages(() => fromFlags(['--nice_level', '100', '--', '/bin/true']))).toEqual([
      'flag --nice_level "100": 100 is out of range: nice_level is -20 (highest priority) .. 19 (lowest)',
    ]);
    expect(messages(() => configFromObject({ niceLevel: -21 }))).toEqual([
      'nice_level: -21 is out of range: nice_level is -20 (highest priority) .. 19 (lowest)',
    ]);
  });
});

describe('NUL bytes in text fields', () => {
  const why = 'text fields are passed to the kernel as C strings, which end at the first NUL: remove it (file content with NUL bytes belongs in src_content)';

  it('are refused in text, JSON and objects, at the value', () => {
    expect(printed(() => parse('hostname: "a\\0b"'))).toBe(
      [`test.cfg:1:11: hostname: "a\\u0000b" contains a NUL byte at offset 1; ${why}`, '  hostname: "a\\0b"', '            ^^^^^^'].join('\n'),
    );
    expect(messages(() => parseConfigJson('{"mount": [{"dst": "/x\\u0000y"}]}', 'c.json'))).toEqual([
      `mount[0].dst: "/x\\u0000y" contains a NUL byte at offset 2; ${why}`,
    ]);
    expect(messages(() => configFromObject({ envar: ['A=\0'], exec_bin: { path: '/bin/true', arg: ['\0'] } }))).toEqual([
      `envar[0]: "A=\\u0000" contains a NUL byte at offset 2; ${why}`,
      `exec_bin.arg[0]: "\\u0000" contains a NUL byte at offset 0; ${why}`,
    ]);
  });

  it('are still fine in bytes fields', () => {
    expect(parse('mount { dst: "/f" src_content: "a\\0b" }').config.mount[0].srcContent).toEqual(new Uint8Array([0x61, 0, 0x62]));
  });
});

describe('uid and gid maps', () => {
  it('take at most the kernel\'s 340 lines, and say so at the first entry too many', () => {
    const line = (i: number) => `uidmap { inside_id: "${i}" outside_id: "${100000 + i}" }`;
    expect(parse(Array.from({ length: 340 }, (_, i) => line(i)).join('\n')).config.uidmap).toHaveLength(340);
    const e = printed(() => parse(Array.from({ length: 341 }, (_, i) => line(i)).join('\n')));
    expect(e).toMatch(/^test\.cfg:341:1: uidmap\[340\]: 341 uidmap entries: the kernel takes at most 340 lines in a uid_map\n/);
    expect(e).toMatch(/hint: map ranges with count instead of one entry per id$/);
    const flags = ['--', '/bin/true'];
    for (let i = 0; i < 341; i++) flags.unshift('-g', `${i}:${i}`);
    expect(messages(() => fromFlags(flags))).toEqual(['flag --group: 341 gidmap entries: the kernel takes at most 340 lines in a gid_map']);
  });
});
