import { describe, expect, it } from 'vitest';
import { configFromObject, effectiveMounts, loadConfig, resolveCommand } from '../../../src/config';
import { thrown } from './helpers';

const withExe = (exe: object) => configFromObject({ exec_bin: exe }).config;

describe('resolveCommand', () => {
  it('runs argv[0] of the command line when there is no exec_bin', () => {
    expect(resolveCommand(configFromObject({}).config, ['/bin/echo', 'ABC'])).toEqual({ path: '/bin/echo', argv: ['/bin/echo', 'ABC'] });
    expect(resolveCommand(configFromObject({}).config, ['python3', 'x.py'])).toEqual({ path: 'python3', argv: ['python3', 'x.py'] });
  });

  it("runs exec_bin's path and args without a command line", () => {
    const c = loadConfig('exec_bin { path: "/bin/echo" arg: "from-config" }').config;
    expect(resolveCommand(c, [])).toEqual({ path: '/bin/echo', argv: ['/bin/echo', 'from-config'] });
  });

  it('keeps exec_bin.path but takes argv from after --', () => {
    const c = loadConfig('exec_bin { path: "/bin/echo" arg: "from-config" }').config;
    expect(resolveCommand(c, ['/bin/printf', 'hi'])).toEqual({ path: '/bin/echo', argv: ['/bin/printf', 'hi'] });
  });

  it('replaces argv[0] with arg0, for the config argv only', () => {
    const c = withExe({ path: '/bin/busybox', arg: ['ls', '-l'], arg0: 'ls' });
    expect(resolveCommand(c, [])).toEqual({ path: '/bin/busybox', argv: ['ls', 'ls', '-l'] });
    expect(resolveCommand(c, ['x', 'y'])).toEqual({ path: '/bin/busybox', argv: ['x', 'y'] });
  });

  it('-x alone runs that program with argv [path]', () => {
    expect(resolveCommand(withExe({ path: '/bin/true' }), [])).toEqual({ path: '/bin/true', argv: ['/bin/true'] });
  });

  it('refuses to run nothing', () => {
    const e = thrown(() => resolveCommand(configFromObject({}).config, []));
    expect(e.code).toBe('flag');
    expect(e.message).toMatch(/^no command to run: give it after --/);
  });
});

describe('effectiveMounts', () => {
  it('puts the --chroot bind first and /proc last', () => {
    const c = configFromObject({ chroot: '/srv/root', mount: [{ dst: '/tmp', fstype: 'tmpfs' }], mount_proc: true, proc_rw: true }).config;
    expect(effectiveMounts(c).map((m) => [m.src, m.dst, m.fstype, m.isBind, m.rw, m.isDir])).toEqual([
      ['/srv/root', '/', '', true, false, true],
      ['', '/tmp', 'tmpfs', false, false, undefined],
      ['', '/proc', 'proc', false, true, true],
    ]);
  });

  it('follows --rw for the chroot and --proc_path for /proc', () => {
    const c = configFromObject({ chroot: '/', rw: true, mount_proc: true, proc_path: '/p' }).config;
    expect(effectiveMounts(c).map((m) => [m.dst, m.rw])).toEqual([['/', true], ['/p', false]]);
    expect(effectiveMounts(configFromObject({}).config)).toEqual([]);
  });
});
