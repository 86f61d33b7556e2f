/**
 * seccomp_unotify's report (nsjail's unotify.Stat): what each notification named, resolved and
 * typed against a fake file system; the aggregate and its order; the protobuf text format; and
 * supervise() feeding it from the listener and writing the report file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import type { SeccompNotification } from '../../../src/native/types';
import { compilePolicy } from '../../../src/policy';
import { supervise } from '../../../src/supervisor/supervise';
import { accessOf, formatUnotifyReport, openFlagNames, UnotifyStats, type PathType, type Probe, type UnotifyStat } from '../../../src/supervisor/unotify-report';
import { FakeAddon } from '../../helpers/fake-addon';
import { logSink, planned, recordingStdio } from './helpers';

const X86_64 = 0xc000003e;
const AT_FDCWD = -100;
const NR = { open: 2, newstat: 4, access: 21, connect: 42, bind: 49, rename: 82, chown: 92, socket: 41, openat: 257, newfstatat: 262, openat2: 437 };
const O = { RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, TRUNC: 0o1000, CLOEXEC: 0o2000000 };

/** pid 7's cwd is /work and its fd 3 is /etc, fd 4 a pipe; /proc/7/root shows the jail's files, the rest is the host's. */
const fakeProbe = (jail: Record<string, PathType>, host: Record<string, PathType> = {}): Probe => ({
  readlink: (p) => ({ '/proc/7/cwd': '/work', '/proc/7/fd/3': '/etc', '/proc/7/fd/4': 'pipe:[99]' })[p] ?? null,
  lstatType: (p) => (p.startsWith('/proc/7/root/') ? jail[p.slice('/proc/7/root'.length)] : host[p]) ?? 'NONEXISTENT',
});

function notification(nr: number, args: number[], extra: Partial<SeccompNotification> = {}): SeccompNotification {
  const regs = [...args, 0, 0, 0, 0, 0, 0].slice(0, 6).map((a) => BigInt.asUintN(64, BigInt(a)));
  return { pid: 7, nr, arch: X86_64, args: regs, ...extra };
}
const paths = (...ps: [string, number?][]) => ps.map(([p, dirfd]) => ({ path: Buffer.from(p), ...(dirfd === undefined ? {} : { dirfd }) }));

function unixAddr(name: string | Buffer): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(name) + (typeof name === 'string' ? 1 : 0));
  b.writeUInt16LE(1, 0);
  (typeof name === 'string' ? Buffer.from(name) : name).copy(b, 2);
  return b;
}

describe('accessOf', () => {
  const probe = fakeProbe({ '/work/data.txt': 'REGULAR', '/etc/passwd': 'REGULAR', '/work': 'DIR', '/run/s.sock': 'SOCK' }, { '/etc/passwd': 'REGULAR' });

  it('openat: a relative path is resolved against the cwd; the types come from the jail and the host; the mode and extra flags from the flags', () => {
    const a = accessOf(notification(NR.openat, [AT_FDCWD, 0, O.WRONLY | O.CREAT | O.TRUNC | O.CLOEXEC], { paths: paths(['data.txt', AT_FDCWD]) }), probe);
    expect(a).toEqual({
      name: 'openat',
      args: ['dirfd=AT_FDCWD'],
      paths: [
        {
          info: { path: '/work/data.txt', existsInJail: true, existsInMain: false, jailType: 'REGULAR', mainType: 'NONEXISTENT', mode: 'WRONLY' },
          extraArgs: ['mode_extra=O_CREAT|O_TRUNC|O_CLOEXEC'],
        },
      ],
    });
  });

  it('a dirfd: resolved against /proc/<pid>/fd/N; an empty path names the fd itself (fstat), a pipe has no type', () => {
    const at = accessOf(notification(NR.openat, [3, 0, O.RDONLY], { paths: paths(['passwd', 3]) }), probe)!;
    expect(at.paths[0].info).toMatchObject({ path: '/etc/passwd', jailType: 'REGULAR', mainType: 'REGULAR', mode: 'RDONLY' });
    expect(at.args).toEqual(['dirfd=3']);
    expect(accessOf(notification(NR.newfstatat, [3], { paths: paths(['', 3]) }), probe)!.paths[0].info).toEqual({
      path: '/etc', existsInJail: false, existsInMain: false, jailType: 'NONEXISTENT', mainType: 'NONEXISTENT',
    });
    expect(accessOf(notification(NR.newfstatat, [4], { paths: paths(['', 4]) }), probe)!.paths[0].info).toEqual({
      path: 'pipe:[99]', existsInJail: false, existsInMain: false, jailType: 'UNKNOWN', mainType: 'UNKNOWN',
    });
    // A directory /proc cannot show: the path as written.
    expect(accessOf(notification(NR.newfstatat, [9], { paths: paths(['x', 9]) }), probe)!.paths[0].info.path).toBe('x');
  });

  it('open, openat2 (flags from struct open_how), stat (nsjail calls newstat "stat"), access, chown, rename', () => {
    expect(accessOf(notification(NR.open, [0, O.RDWR], { paths: paths(['/etc/passwd']) }), probe)).toMatchObject({ name: 'open', args: [], paths: [{ info: { mode: 'RDWR' }, extraArgs: [] }] });
    expect(accessOf(notification(NR.openat2, [AT_FDCWD], { paths: paths(['/etc/passwd', AT_FDCWD]), openHowFlags: BigInt(O.RDONLY | O.CLOEXEC) }), probe)).toMatchObject({
      paths: [{ info: { mode: 'RDONLY' }, extraArgs: ['mode_extra=O_CLOEXEC'] }],
    });
    expect(accessOf(notification(NR.openat2, [AT_FDCWD], { paths: paths(['/etc/passwd', AT_FDCWD]) }), probe)!.paths[0].info.mode).toBeUndefined();
    expect(accessOf(notification(NR.newstat, [0], { paths: paths(['/nope']) }), probe)).toMatchObject({
      name: 'stat',
      paths: [{ info: { path: '/nope', jailType: 'NONEXISTENT', mainType: 'NONEXISTENT', existsInJail: false } }],
    });
    expect(accessOf(notification(NR.access, [0, 4 | 2], { paths: paths(['/etc/passwd']) }), probe)!.args).toEqual(['mode=R_OK|W_OK']);
    expect(accessOf(notification(NR.access, [0, 0], { paths: paths(['/etc/passwd']) }), probe)!.args).toEqual(['mode=F_OK']);
    expect(accessOf(notification(NR.chown, [0, 1000, -1], { paths: paths(['/etc/passwd']) }), probe)!.args).toEqual(['owner=1000', 'group=-1']);
    const rename = accessOf(notification(NR.rename, [], { paths: paths(['data.txt'], ['/work/new.txt']) }), probe)!;
    expect(rename.paths.map((p) => p.info.path)).toEqual(['/work/data.txt', '/work/new.txt']);
  });

  it('connect and bind: IPv4 with a port for stream sockets; a unix path, resolved and typed; abstract and unnamed unix sockets', () => {
    const inet = Buffer.from([2, 0, 0x1f, 0x90, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(accessOf(notification(NR.connect, [5], { sockaddr: inet, socketType: 1 }), probe)).toEqual({
      name: 'connect', args: ['fd=5', 'type=SOCK_STREAM'], paths: [], net: { type: 'IPV4', endpoint: '10.0.0.1', port: 8080 },
    });
    expect(accessOf(notification(NR.connect, [5], { sockaddr: inet, socketType: 3 }), probe)!.net).toEqual({ type: 'IPV4', endpoint: '10.0.0.1' });
    expect(accessOf(notification(NR.connect, [6], { sockaddr: unixAddr('/run/s.sock'), socketType: 1 }), probe)!.net).toEqual({
      type: 'UNIX',
      endpoint: '/run/s.sock',
      socketPath: { path: '/run/s.sock', existsInJail: true, existsInMain: false, jailType: 'SOCK', mainType: 'NONEXISTENT' },
    });
    expect(accessOf(notification(NR.bind, [6], { bindAddr: unixAddr('s.sock'), socketType: 1 }), probe)!.net!.endpoint).toBe('/work/s.sock');
    expect(accessOf(notification(NR.bind, [6], { bindAddr: unixAddr(Buffer.from('\0name')), socketType: 2 }), probe)!.net).toEqual({ type: 'UNIX', endpoint: '@name' });
    expect(accessOf(notification(NR.bind, [6], { bindAddr: unixAddr(Buffer.alloc(0)) }), probe)!.net).toEqual({ type: 'UNIX', endpoint: 'anonymous unix socket' });
  });

  it('names nothing: socket(), a path the addon could not read, another architecture', () => {
    expect(accessOf(notification(NR.socket, [1, 1, 0]), probe)).toBeNull();
    expect(accessOf(notification(NR.openat, [AT_FDCWD, 0, 0]), probe)).toBeNull();
    expect(accessOf({ ...notification(NR.openat, [AT_FDCWD, 0, 0], { paths: paths(['/x', AT_FDCWD]) }), arch: 0x40000003 }, probe)).toBeNull();
  });
});

describe('openFlagNames', () => {
  it("uses each architecture's values, and names a flag only when all its bits are set", () => {
    expect(openFlagNames(0o200000, 'x86_64')).toEqual(['O_DIRECTORY']);
    expect(openFlagNames(0o40000, 'aarch64')).toEqual(['O_DIRECTORY']);
    expect(openFlagNames(0o10000, 'x86_64')).toEqual(['O_DSYNC']);
    expect(openFlagNames(0o4010000, 'x86_64')).toEqual(['O_DSYNC', 'O_SYNC']);
  });
});

describe('UnotifyStats', () => {
  const probe = fakeProbe({ '/a': 'REGULAR', '/b': 'DIR' }, { '/a': 'REGULAR' });
  const add = (stats: UnotifyStats, n: SeccompNotification) => stats.add(accessOf(n, probe)!);

  it('counts per path, type and mode, and per syscall with its args under each; sorted as nsjail sorts (path, then types, then mode)', () => {
    const stats = new UnotifyStats();
    add(stats, notification(NR.openat, [AT_FDCWD, 0, O.RDONLY], { paths: paths(['/b', AT_FDCWD]) }));
    add(stats, notification(NR.openat, [AT_FDCWD, 0, O.WRONLY], { paths: paths(['/a', AT_FDCWD]) }));
    add(stats, notification(NR.openat, [AT_FDCWD, 0, O.RDONLY], { paths: paths(['/a', AT_FDCWD]) }));
    add(stats, notification(NR.openat, [AT_FDCWD, 0, O.RDONLY | O.CLOEXEC], { paths: paths(['/a', AT_FDCWD]) }));
    add(stats, notification(NR.openat, [AT_FDCWD, 0, O.RDONLY], { paths: paths(['/a', AT_FDCWD]) }));
    add(stats, notification(NR.newstat, [], { paths: paths(['/a']) }));
    const { fsAccess, netAccess } = stats.result();
    expect(netAccess).toEqual([]);
    expect(fsAccess.map((a) => [a.path, a.mode, a.count])).toEqual([
      ['/a', undefined, 1],
      ['/a', 'RDONLY', 3],
      ['/a', 'WRONLY', 1],
      ['/b', 'RDONLY', 1],
    ]);
    expect(fsAccess[1].syscalls).toEqual([
      { name: 'openat', args: ['dirfd=AT_FDCWD'], count: 2 },
      { name: 'openat', args: ['dirfd=AT_FDCWD', 'mode_extra=O_CLOEXEC'], count: 1 },
    ]);
  });

  it('counts each endpoint; both paths of a rename; non-UTF-8 paths are probed as bytes and shown decoded', () => {
    const stats = new UnotifyStats();
    const inet = Buffer.from([2, 0, 0, 53, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    add(stats, notification(NR.connect, [3], { sockaddr: inet, socketType: 2 }));
    add(stats, notification(NR.connect, [3], { sockaddr: inet, socketType: 2 }));
    add(stats, notification(NR.rename, [], { paths: paths(['/a'], ['/b']) }));
    const seen: string[] = [];
    const bytes = new UnotifyStats();
    bytes.add(accessOf(notification(NR.newstat, [], { paths: [{ path: Buffer.from([0x2f, 0xe9]) }] }), { readlink: () => null, lstatType: (p) => (seen.push(p), 'REGULAR') })!);
    const r = stats.result();
    expect(r.netAccess).toEqual([{ type: 'IPV4', endpoint: '9.9.9.9', port: 53, count: 2, syscalls: [{ name: 'connect', args: ['fd=3', 'type=SOCK_DGRAM'], count: 2 }] }]);
    expect(r.fsAccess.map((a) => a.path)).toEqual(['/a', '/b']);
    expect(seen.map((p) => Buffer.from(p, 'latin1'))).toContainEqual(Buffer.from([0x2f, 0xe9]));
    expect(bytes.result().fsAccess[0].path).toBe('/\ufffd');
  });
});

describe('formatUnotifyReport', () => {
  it("prints nsjail's protobuf text format: fields in field-number order, mode only when known, strings C-escaped", () => {
    const stat: UnotifyStat = {
      fsAccess: [
        {
          path: '/tmp/\u00e9"x',
          existsInJail: true,
          existsInMain: false,
          jailType: 'REGULAR',
          mainType: 'NONEXISTENT',
          mode: 'RDONLY',
          count: 2,
          syscalls: [{ name: 'openat', args: ['dirfd=AT_FDCWD', 'mode_extra=O_CLOEXEC'], count: 2 }],
        },
      ],
      netAccess: [
        {
          type: 'UNIX',
          endpoint: '/run/s',
          socketPath: { path: '/run/s', existsInJail: true, existsInMain: true, jailType: 'SOCK', mainType: 'SOCK' },
          count: 1,
          syscalls: [{ name: 'connect', args: ['fd=3'], count: 1 }],
        },
        { type: 'IPV4', endpoint: '10.0.0.1', port: 80, count: 1, syscalls: [{ name: 'connect', args: [], count: 1 }] },
      ],
    };
    expect(formatUnotifyReport(stat)).toBe(
      [
        'fs_access {',
        '  path: "/tmp/\\303\\251\\"x"',
        '  jail_type: REGULAR',
        '  main_type: NONEXISTENT',
        '  mode: RDONLY',
        '  count: 2',
        '  syscall {',
        '    name: "openat"',
        '    args: "dirfd=AT_FDCWD"',
        '    args: "mode_extra=O_CLOEXEC"',
        '    count: 2',
        '  }',
        '  exists_in_jail: true',
        '  exists_in_main: false',
        '}',
        'net_access {',
        '  type: UNIX',
        '  endpoint: "/run/s"',
        '  socket_path {',
        '    path: "/run/s"',
        '    jail_type: SOCK',
        '    main_type: SOCK',
        '    exists_in_jail: true',
        '    exists_in_main: true',
        '  }',
        '  count: 1',
        '  syscall {',
        '    name: "connect"',
        '    args: "fd=3"',
        '    count: 1',
        '  }',
        '}',
        'net_access {',
        '  type: IPV4',
        '  endpoint: "10.0.0.1"',
        '  count: 1',
        '  syscall {',
        '    name: "connect"',
        '    count: 1',
        '  }',
        '  port: 80',
        '}',
        '',
      ].join('\n'),
    );
    expect(formatUnotifyReport({ fsAccess: [], netAccess: [] })).toBe('');
  });
});

describe('supervise() with seccomp_unotify', () => {
  const opened = { pid: 7, nr: NR.openat, arch: X86_64, args: [BigInt.asUintN(64, -100n), 0n, 0n, 0n, 0n, 0n], paths: [{ path: Buffer.from('/etc/hostname'), dirfd: AT_FDCWD }] };

  it('asks the addon for paths, puts the report in the exit report, logs it and writes the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jail-unotify-'));
    try {
      const file = path.join(dir, 'report.txt');
      fs.writeFileSync(file, 'stale');
      const fake = new FakeAddon().script({ notifications: [opened] });
      const sink = logSink('info');
      const { report } = await supervise(fake, planned(['--chroot', '/', '--seccomp_unotify', '--seccomp_unotify_report', file, '--', '/bin/true']), {
        timeLimit: 0,
        stdio: recordingStdio(),
        log: sink.log,
      });
      expect(fake.callsOf('watchNotifications')).toEqual([[expect.any(Number), true]]);
      const stat = report.notifications!.report!;
      expect(stat.fsAccess).toEqual([expect.objectContaining({ path: '/etc/hostname', mode: 'RDONLY', count: 1 })]);
      const text = fs.readFileSync(file, 'utf8');
      expect(text).toBe(formatUnotifyReport(stat));
      expect(sink.text()).toContain(`info: unotify report:\n${text}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a report file that cannot be opened stops the launch, naming the path and the fix', async () => {
    const fake = new FakeAddon();
    const run = supervise(fake, planned(['--chroot', '/', '--seccomp_unotify', '--seccomp_unotify_report', '/nonexistent-dir/r.txt', '--', '/bin/true']), {
      timeLimit: 0,
      stdio: recordingStdio(),
      log: logSink().log,
    });
    await expect(run).rejects.toMatchObject({ message: "seccomp_unotify_report '/nonexistent-dir/r.txt': cannot open it for writing: ENOENT", hint: expect.stringContaining('existing directory') });
    expect(fake.calls.find((c) => c.fn === 'launch')).toBeUndefined();
  });

  it('USER_NOTIF alone reads no paths and builds no report; seccomp_unotify_report alone is a warning', async () => {
    const fake = new FakeAddon().script({ notifications: [opened] });
    const filter = compilePolicy('USER_NOTIF { openat } DEFAULT ALLOW', { archs: ['x86_64'] });
    const { report } = await supervise(fake, planned(['--chroot', '/', '--', '/bin/true'], {}, filter), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log });
    expect(fake.callsOf('watchNotifications')).toEqual([[expect.any(Number), false]]);
    expect(report.notifications).toEqual({ total: 1, bySyscall: { openat: 1 } });
    expect(planned(['--chroot', '/', '--seccomp_unotify_report', '/tmp/r', '--', '/bin/true']).warnings).toContainEqual(
      "seccomp_unotify_report '/tmp/r' is set without seccomp_unotify: nothing is notified, so no report is written (add --seccomp_unotify, as in nsjail)",
    );
  });
});
