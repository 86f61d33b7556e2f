import { describe, expect, it } from 'vitest';
import { configFromObject, defaultConfig } from '../../../src/config';
import { idFiles, messages, thrown } from './helpers';

const from = (obj: unknown, origin?: string) => configFromObject(obj, origin, { idFiles });

describe('configFromObject', () => {
  it('accepts snake_case and camelCase names', () => {
    const c = from({ time_limit: 3, keepEnv: true, mount: [{ src: '/usr', dst: '/usr', is_bind: true }, { dst: '/tmp', fstype: 'tmpfs', isBind: false }] }).config;
    expect(c.timeLimit).toBe(3);
    expect(c.keepEnv).toBe(true);
    expect(c.mount.map((m) => [m.dst, m.isBind])).toEqual([['/usr', true], ['/tmp', false]]);
  });

  it('takes command-line-only settings too (a library has no command line)', () => {
    const c = from({ chroot: '/', rw: true, proc_path: '/p', executeFd: true }).config;
    expect(c).toMatchObject({ chroot: '/', rw: true, procPath: '/p', executeFd: true });
  });

  it('treats undefined as unset and reads bytes from text or Uint8Array', () => {
    const c = from({ hostname: undefined, mount: [{ dst: '/a', src_content: 'hi\n' }, { dst: '/b', srcContent: Buffer.from([1, 2]) }] }).config;
    expect(c.hostname).toBe('NSJAIL');
    expect([...c.mount[0].srcContent!]).toEqual([104, 105, 10]);
    expect(c.mount[1].srcContent).toEqual(new Uint8Array([1, 2]));
  });

  it('accepts integers as numbers, bigints or decimal strings, enums as names or numbers', () => {
    const c = from({ rlimit_as: 10n, rlimit_fsize: '20', mode: 3, rlimit_as_type: 'INF' }).config;
    expect(c).toMatchObject({ rlimitAs: 10, rlimitFsize: 20, mode: 'EXECVE', rlimitAsType: 'INF' });
  });

  it('names the field path in every error', () => {
    expect(
      messages(() =>
        from({
          mount: [{ dst: '/a' }, { dst: '/b' }, { dst: '/c', is_bind: 'yes' }],
          time_limit: -1,
          hostname: 5,
          uidmap: [{ inside_id: 0 }],
          exec_bin: { path: '/bin/sh', arg: 'x' },
          nope: true,
          mode: 'once',
          envar: [['x']],
          keep_env: { a: 1 },
          cwd: () => 1,
          mountProc: [true],
        }),
      ),
    ).toEqual([
      'mount[2].is_bind: expected bool (true or false), got "yes"',
      'time_limit: -1 is out of range: uint32 cannot be negative',
      'hostname: expected string, got 5',
      'uidmap[0].inside_id: expected string, got 0',
      'exec_bin.arg: is a repeated field: expected a list [...], got "x"',
      'NsJailConfig has no field named "nope"',
      'mode: unknown Mode value "once" (did you mean ONCE?); expected one of LISTEN, ONCE, RERUN, EXECVE (or 0..3)',
      'envar[0]: expected string, got an array',
      'keep_env: expected bool (true or false), got a message { ... }',
      'cwd: expected string, got a function',
      'mount_proc: is not a repeated field, so it cannot take a list [...]',
    ]);
  });

  it('prefixes messages with the origin when given', () => {
    expect(messages(() => from({ time_limit: 'x' }, 'run() config'))).toEqual(['run() config: time_limit: expected uint32, got "x"']);
    expect(thrown(() => from([1, 2], 'run() config')).message).toBe('run() config: a config must be a plain object of nsjail config fields');
    expect(thrown(() => from(null)).message).toBe('a config must be a plain object of nsjail config fields');
  });

  it('rejects the same field under both spellings', () => {
    expect(messages(() => from({ time_limit: 1, timeLimit: 2 }))).toEqual(['time_limit: set more than once; it is not a repeated field']);
  });

  it('round-trips a Config through configFromObject', () => {
    const c = from({ mount: [{ dst: '/x', src_content: 'a' }], exec_bin: { path: '/bin/true' }, chroot: '/' }).config;
    expect(from(c).config).toEqual(c);
    expect(from(defaultConfig()).config).toEqual(defaultConfig());
  });
});
