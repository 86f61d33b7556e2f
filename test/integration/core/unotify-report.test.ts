/**
 * nsjail's --seccomp_unotify_report against a real jail: a Python program opens a planted file for
 * reading and another for writing, stats a missing path, connects to a unix socket, and opens
 * two more files through path strings placed across a page boundary and against an unmapped
 * page (the addon reads the target's memory a page at a time). The report file, written by the
 * supervisor, names each with its types, mode and count, and is the text form of the exit
 * report's notifications.report. As root, and as an unprivileged user (relative report path).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { formatUnotifyReport, type UnotifyStat } from '../../../src/supervisor/unotify-report';
import { describeAsRoot, describeIf } from '../../helpers/env';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import { cli, cliFixture, type CliResult } from './helpers';

const lastJson = (text: string) => JSON.parse(text.trim().split('\n').pop()!);

/** The program the jail runs: every access the report must show, in `dir`. */
function program(dir: string): string[] {
  const py = `
import ctypes, os, socket
D = ${JSON.stringify(dir)}
open(D + '/planted').read()
open(D + '/out/written', 'w').write('x')
try:
    os.stat(D + '/missing')
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX)
s.connect(D + '/sock')
s.close()
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.open.argtypes = [ctypes.c_void_p, ctypes.c_int]
P = os.sysconf('SC_PAGESIZE')
base = libc.mmap(None, 3 * P, 3, 0x22, -1, 0)
libc.munmap(base + 2 * P, P)
def open_at(addr, name):
    p = (D + '/' + name).encode() + b'\\0'
    if addr is None:
        addr = base + 2 * P - len(p)
    else:
        addr = addr - len(p) // 2
    ctypes.memmove(addr, p, len(p))
    fd = libc.open(addr, 0)
    assert fd >= 0, ctypes.get_errno()
    os.close(fd)
open_at(base + P, 'across')
open_at(None, 'edge')
`;
  return ['/usr/bin/python3', '-c', py];
}

/** Plants the files and the listening socket in `dir`; `owner` gets `out/` and the socket. */
async function plant(dir: string, owner?: { uid: number; gid: number }): Promise<net.Server> {
  for (const f of ['planted', 'across', 'edge']) fs.writeFileSync(path.join(dir, f), 'hello\n', { mode: 0o644 });
  fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve) => server.listen(path.join(dir, 'sock'), resolve));
  fs.chmodSync(path.join(dir, 'sock'), 0o777);
  if (owner) fs.chownSync(path.join(dir, 'out'), owner.uid, owner.gid);
  return server;
}

function checkReport(r: CliResult, dir: string, reportFile: string): void {
  expect(r.stderr).not.toContain('Traceback');
  expect(r.code).toBe(0);
  const stat: UnotifyStat = lastJson(r.stderr).notifications.report;
  const text = fs.readFileSync(reportFile, 'utf8');
  expect(text).toBe(formatUnotifyReport(stat));
  // Opened files are fstat-ed too (newfstatat(fd, "", AT_EMPTY_PATH)): separate entries, without a mode.
  const fsAt = (name: string) => stat.fsAccess.filter((a) => a.path === path.join(dir, name));
  const opened = (name: string) => fsAt(name).filter((a) => a.mode !== undefined);

  const read = opened('planted').find((a) => a.mode === 'RDONLY');
  expect(read).toMatchObject({ existsInJail: true, existsInMain: true, jailType: 'REGULAR', mainType: 'REGULAR', count: 1, syscalls: [{ name: 'openat', count: 1 }] });
  expect(read!.syscalls[0].args).toEqual(['dirfd=AT_FDCWD', 'mode_extra=O_CLOEXEC']);
  // It did not exist when opened; the report is of that moment.
  expect(opened('out/written')).toEqual([
    expect.objectContaining({ mode: 'WRONLY', existsInJail: false, jailType: 'NONEXISTENT', count: 1, syscalls: [expect.objectContaining({ args: ['dirfd=AT_FDCWD', 'mode_extra=O_CREAT|O_TRUNC|O_CLOEXEC'] })] }),
  ]);
  expect(fsAt('missing')).toEqual([
    expect.objectContaining({ existsInJail: false, existsInMain: false, jailType: 'NONEXISTENT', mainType: 'NONEXISTENT', count: 1, syscalls: [expect.objectContaining({ name: 'newfstatat' })] }),
  ]);
  for (const name of ['across', 'edge']) expect(opened(name)).toEqual([expect.objectContaining({ mode: 'RDONLY', jailType: 'REGULAR', count: 1 })]);
  // glibc may also try nscd's socket (getpwuid): only the planted one is checked.
  expect(stat.netAccess.filter((a) => a.endpoint.startsWith(dir))).toEqual([
    {
      type: 'UNIX',
      endpoint: path.join(dir, 'sock'),
      socketPath: { path: path.join(dir, 'sock'), existsInJail: true, existsInMain: true, jailType: 'SOCK', mainType: 'SOCK' },
      count: 1,
      syscalls: [{ name: 'connect', args: [expect.stringMatching(/^fd=\d+$/), 'type=SOCK_STREAM'], count: 1 }],
    },
  ]);
  // The text names them too, as nsjail prints them.
  expect(text).toContain(`fs_access {\n  path: "${path.join(dir, 'missing')}"\n  jail_type: NONEXISTENT\n  main_type: NONEXISTENT\n  count: 1\n`);
  expect(text).toContain(`net_access {\n  type: UNIX\n  endpoint: "${path.join(dir, 'sock')}"\n  socket_path {\n`);
}

describeAsRoot('seccomp_unotify_report (root)', () => {
  const tmp = cliFixture();

  it('the report file names the files read, written and stat-ed and the unix socket connected to, with types, modes and counts', async () => {
    const dir = tmp().dir;
    const server = await plant(dir);
    try {
      const reportFile = path.join(dir, 'report.txt');
      fs.writeFileSync(reportFile, 'a stale report');
      const r = await cli(['-q', '--report', 'json', '--chroot', '/', '--rw', '--seccomp_unotify', '--seccomp_unotify_report', reportFile, '--', ...program(dir)]);
      checkReport(r, dir, reportFile);
    } finally {
      server.close();
    }
  });

  it('without -q the report is logged as nsjail logs it; a report file that cannot be written stops the launch', async () => {
    const r = await cli(['--chroot', '/', '--seccomp_unotify', '--', '/bin/true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/unotify report:\nfs_access \{\n {2}path: "\/bin\/true"\n/);
    const bad = await cli(['-q', '--chroot', '/', '--seccomp_unotify', '--seccomp_unotify_report', '/nonexistent-dir/r.txt', '--', '/bin/true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("seccomp_unotify_report '/nonexistent-dir/r.txt': cannot open it for writing: ENOENT");
    expect(bad.stderr).toContain('existing directory');
  });
});

describeIf('seccomp_unotify_report (rootless)', rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-unotrep');

  it('the same report as an unprivileged user, written to a path relative to its working directory', async () => {
    const { dir, user } = fixture();
    const server = await plant(dir, user);
    try {
      const r = await fixture().jail(['-q', '--report', 'json', '--chroot', '/', '--rw', '--seccomp_unotify', '--seccomp_unotify_report', 'out/report.txt', '--', ...program(dir)]);
      checkReport(r, dir, path.join(dir, 'out', 'report.txt'));
    } finally {
      server.close();
    }
  });
});
