/**
 * Seccomp in the jail (issue 4, "Integration"): KILL reported as a seccomp violation naming the
 * syscall, ERRNO, compile errors before launch, and the shipped policies under real programs and
 * the probe's syscall checks.
 */
import * as path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { assertBuilt, cli, killSpawned, probePath, REPO, runFlags, runProbe, SYSTEM_PATH, type Probe } from './helpers';

const CHROOT = ['--chroot', '/'];
const POLICY = (name: string) => path.join(REPO, 'policies', name);
const X64 = process.arch === 'x64';

describeAsRoot('seccomp: --seccomp_string', () => {
  beforeAll(() => {
    assertBuilt();
    probePath();
  });
  afterEach(() => killSpawned());

  it("CLI: 'KILL { newuname } DEFAULT ALLOW' makes /bin/uname exit 159; the report and log name the syscall", async () => {
    const syscall = X64 ? 'newuname' : 'uname';
    const r = await cli(['-q', '--report', 'json', ...CHROOT, '--seccomp_string', `KILL { ${syscall} } DEFAULT ALLOW`, '--', '/bin/uname']);
    expect(r.signal, 'jail itself died of a signal (reading the audit record?)').toBeNull();
    expect(r.code).toBe(159);
    expect(r.stdout).toBe('');
    const report = JSON.parse(r.stderr.trim().split('\n').pop()!);
    expect(report.outcome).toBe('seccomp-violation');
    expect(report.exitCode).toBe(159);
    expect(report.signal).toBe('SIGSYS');
    // As root the kernel's audit record is readable, so the syscall is always known.
    if (X64) expect(report.seccomp).toEqual({ syscall: 'newuname', nr: 63, arch: 'x86_64' });
    else expect(report.seccomp.syscall).toBe(syscall);
    expect(r.stderr).toMatch(/seccomp violation.*uname/);
  });

  it("'ERRNO(1) { newuname }' makes uname fail with EPERM (exit 1, 'Operation not permitted')", async () => {
    const r = await runFlags([...CHROOT, '--seccomp_string', 'ERRNO(1) { newuname } DEFAULT ALLOW'], ['/bin/uname']);
    expect(r.outcome).toBe('exited');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Operation not permitted/);
    const { probe } = await runProbe([...CHROOT, '--seccomp_string', 'ERRNO(1) { newuname } DEFAULT ALLOW'], ['caps', 'syscall:uname', 'syscall:getppid']);
    expect(probe.syscalls.uname.errno).toBe('EPERM');
    expect(probe.syscalls.getppid.ok).toBe(true);
    expect(probe.caps.seccomp).toBe(2);
  });

  it('several --seccomp_string are joined with newlines', async () => {
    const { probe } = await runProbe([...CHROOT, '--seccomp_string', 'ERRNO(1) { newuname }', '--seccomp_string', 'DEFAULT ALLOW'], ['none', 'syscall:uname']);
    expect(probe.syscalls.uname.errno).toBe('EPERM');
  });

  it('--seccomp_log keeps the policy working (filter installed with the LOG flag)', async () => {
    const { probe } = await runProbe([...CHROOT, '--seccomp_log', '--seccomp_string', 'ERRNO(1) { newuname } DEFAULT ALLOW'], ['caps', 'syscall:uname']);
    expect(probe.caps.seccomp).toBe(2);
    expect(probe.syscalls.uname.errno).toBe('EPERM');
  });

  it('an unknown syscall name fails at startup with exit 255 and the caret error', async () => {
    const r = await cli([...CHROOT, '--seccomp_string', 'KILL { no_such_syscall } DEFAULT ALLOW', '--', '/bin/echo', 'launched']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/1:8: .*no_such_syscall/);
    expect(r.stderr).toMatch(/^\s*KILL \{ no_such_syscall \} DEFAULT ALLOW$/m);
    expect(r.stderr).toMatch(/^\s*\^+$/m);
  });
});

describeAsRoot('seccomp: shipped policies', () => {
  beforeAll(() => {
    assertBuilt();
    probePath();
  });
  afterEach(() => killSpawned());

  const DANGEROUS = ['ptrace_traceme', 'mount_tmpfs', 'keyctl', 'bpf', 'unshare_user', 'unshare_ns', 'perf_event_open', 'userfaultfd'];

  it('-P default-deny.policy refuses ptrace, mount, keyctl, bpf, unshare... with EPERM, even with all caps', async () => {
    const args = ['caps', ...DANGEROUS.map((s) => `syscall:${s}`), 'syscall:getppid', 'syscall:uname'];
    const free: Probe = (await runProbe([...CHROOT, '--keep_caps'], args)).probe;
    const denied: Probe = (await runProbe([...CHROOT, '--keep_caps', '-P', POLICY('default-deny.policy')], args)).probe;
    expect(denied.caps.seccomp).toBe(2);
    for (const s of DANGEROUS) expect(denied.syscalls[s].errno, s).toBe('EPERM');
    // Without the policy these are reachable (they succeed or fail for another reason than EPERM).
    for (const s of ['ptrace_traceme', 'mount_tmpfs', 'unshare_user', 'unshare_ns']) expect(free.syscalls[s].ok, s).toBe(true);
    expect(denied.syscalls.getppid.ok).toBe(true);
    expect(denied.syscalls.uname.ok).toBe(true);
  });

  it('under default-deny.policy ordinary programs still run (python3 -c, /bin/ls)', async () => {
    const py = await runFlags([...CHROOT, '-P', POLICY('default-deny.policy')], ['/usr/bin/python3', '-c', 'import os, json; print(json.dumps(sorted(os.listdir("/usr"))[:1]))']);
    expect(py.exitCode).toBe(0);
    expect(JSON.parse(String(py.stdout))).toHaveLength(1);
    const ls = await runFlags([...CHROOT, '-P', POLICY('default-deny.policy')], ['/bin/ls', '/']);
    expect(ls.exitCode).toBe(0);
    expect(String(ls.stdout).split('\n')).toContain('usr');
  });

  it('-P no-network.policy refuses AF_INET/AF_INET6 sockets with EACCES; AF_UNIX works', async () => {
    const { probe } = await runProbe([...CHROOT, '-P', POLICY('no-network.policy')], ['none', 'syscall:socket_inet', 'syscall:socket_inet6', 'syscall:socket_unix', 'syscall:socket_netlink']);
    expect(probe.syscalls.socket_inet.errno).toBe('EACCES');
    expect(probe.syscalls.socket_inet6.errno).toBe('EACCES');
    expect(probe.syscalls.socket_netlink.errno).toBe('EACCES');
    expect(probe.syscalls.socket_unix.ok).toBe(true);
    const py = await runFlags([...CHROOT, '-P', POLICY('no-network.policy')], [
      '/usr/bin/python3',
      '-c',
      'import socket\ntry:\n  socket.socket()\nexcept OSError as e:\n  print(e.errno)\nsocket.socket(socket.AF_UNIX)\nprint("unix ok")',
    ]);
    expect(py.exitCode).toBe(0);
    expect(py.stdout).toBe('13\nunix ok\n');
  });

  it('a policy file path given relative to the current directory works from the CLI', async () => {
    const r = await cli(['-Q', ...CHROOT, '-P', 'policies/no-network.policy', '--', 'python3', '-c', 'import socket\ntry:\n  socket.socket()\nexcept OSError as e:\n  print(e.errno)'], {
      env: { PATH: SYSTEM_PATH },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('13\n');
  });
});
