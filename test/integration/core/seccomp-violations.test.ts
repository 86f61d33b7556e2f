/**
 * Seccomp violations inside this process: run() reads the kernel's record of the kill to name
 * the syscall. Kept in a file of their own because a crash of the addon's audit reader takes the
 * whole test process down, and it must not hide the results of seccomp.test.ts.
 */
import * as path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { parseProbe, probePath, REPO, runFlags } from './helpers';

const CHROOT = ['--chroot', '/'];
const POLICY = (name: string) => path.join(REPO, 'policies', name);
const X64 = process.arch === 'x64';

describeAsRoot('seccomp violations reported through run()', () => {
  beforeAll(() => void probePath());

  it('run(): the same violation as an ExitReport', async () => {
    const r = await runFlags([...CHROOT, '--seccomp_string', 'KILL { newuname } DEFAULT ALLOW'], ['/bin/uname']);
    expect(r.outcome).toBe('seccomp-violation');
    expect(r.exitCode).toBe(159);
    expect(r.seccomp?.syscall).toBe(X64 ? 'newuname' : 'uname');
    expect(r.seccomp?.nr).toBe(X64 ? 63 : 160);
  });

  it('an i386 syscall (int 0x80) from a second thread kills the whole process, and the report names arch i386 and nr 20', async () => {
    // int 0x80 reaches the i386 syscall table only on x86_64; this test is meaningless elsewhere.
    expect(process.arch, 'the int 0x80 test needs an x86_64 host').toBe('x64');
    const r = await runFlags([...CHROOT, '--seccomp_string', 'DEFAULT ALLOW'], [probePath(), 'none', 'int80thread']);
    // kafel's KILL_THREAD would end only the thread: the probe would print "still alive" and exit 0.
    expect(r.stderr).not.toContain('still alive');
    expect(r.outcome).toBe('seccomp-violation');
    expect(r.exitCode).toBe(159);
    expect(r.signal).toBe('SIGSYS');
    expect(r.seccomp).toEqual({ syscall: null, nr: 20, arch: 'i386' });
  });

  it('-P python-allowlist.policy runs python3 -c in the default (empty) environment', async () => {
    const r = await runFlags([...CHROOT, '-P', POLICY('python-allowlist.policy')], ['/usr/bin/python3', '-c', 'print(6 * 7)']);
    expect(r.seccomp ?? null).toBeNull();
    expect(r.outcome).toBe('exited');
    expect(r.stdout).toBe('42\n');
  });

  it('-P python-allowlist.policy runs a static binary, refuses socket() with EACCES and kills what it does not list (159)', async () => {
    const ok = await runFlags([...CHROOT, '-P', POLICY('python-allowlist.policy')], [probePath(), 'none', 'print:hello']);
    expect(ok.exitCode).toBe(0);
    expect(parseProbe(ok.stdout).probe).toBe(1);
    const refused = await runFlags([...CHROOT, '-E', 'HOME=/', '-P', POLICY('python-allowlist.policy')], [
      '/usr/bin/python3',
      '-c',
      'import _socket\ntry:\n  _socket.socket()\nexcept PermissionError as e:\n  print("refused", e.errno)',
    ]);
    expect(refused.exitCode).toBe(0);
    expect(refused.stdout).toBe('refused 13\n');
    const killed = await runFlags([...CHROOT, '-E', 'HOME=/', '-P', POLICY('python-allowlist.policy')], ['/usr/bin/python3', '-c', 'import os; os.fork()']);
    expect(killed.outcome).toBe('seccomp-violation');
    expect(killed.exitCode).toBe(159);
    expect(killed.seccomp?.syscall).toBe('clone');
  });
});
