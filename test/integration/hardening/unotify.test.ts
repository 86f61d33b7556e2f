/**
 * Seccomp user notifications (issue 12): kafel's USER_NOTIF and nsjail's --seccomp_unotify get a
 * listener in the supervisor. Each notified syscall is an event (--events FILE|fd:N, onEvent of
 * run()) and a count in the exit report, and then goes on. The listener is no way out: the
 * program never holds it (checked from the host, with the supervisor's copy as the control), and
 * a supervisor that stops answering or dies makes a notified syscall wait or fail, never pass.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeAsRoot, describeIf } from '../../helpers/env';
import { cli, cliFixture, runFlags, waitFor, sleep } from '../core/helpers';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import { processesWithArgv, runNodeScript, scriptJson } from './helpers';

const X64 = process.arch === 'x64';
const UNAME = X64 ? 'newuname' : 'uname';
const NOTIFY_UNAME = `USER_NOTIF { ${UNAME} } DEFAULT ALLOW`;

const lastJson = (text: string) => JSON.parse(text.trim().split('\n').pop()!);
const jsonLines = (text: string) => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const fdTargets = (pid: number) =>
  fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });

describeAsRoot('seccomp user notifications (root)', () => {
  const tmp = cliFixture();

  it('USER_NOTIF { uname }: one event with name, nr and args in --events FILE; uname still works; the report counts it', async () => {
    const events = path.join(tmp().dir, 'uname.jsonl');
    const r = await cli(['-q', '--report', 'json', '--chroot', '/', '--seccomp_string', NOTIFY_UNAME, '--events', events, '--', '/bin/uname', '-s']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Linux\n');
    const [e, ...more] = jsonLines(fs.readFileSync(events, 'utf8'));
    expect(more).toEqual([]);
    expect(e).toMatchObject({ type: 'syscall', name: UNAME, nr: X64 ? 63 : 160, action: 'continue' });
    expect(e.args).toHaveLength(6);
    for (const a of e.args) expect(a).toMatch(/^0x[0-9a-f]+$/);
    expect(e.pid).toBeGreaterThan(1);
    expect(lastJson(r.stderr).notifications).toEqual({ total: 1, bySyscall: { [UNAME]: 1 } });
  });

  it('a root supervisor without CAP_SYS_PTRACE (root in a container) takes the listener of a jail that runs as another host uid', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('setpriv', ['--bounding-set', '-sys_ptrace', '--inh-caps', '-sys_ptrace', '--', process.execPath, path.join(__dirname, '../../../bin/jail'), '-q', '-u', '65534:65534', '-g', '65534:65534', '--chroot', '/', '--seccomp_unotify', '--', '/bin/echo', 'listened'], { encoding: 'utf8', timeout: 30_000 });
    // Without the child's dumpable flag around the handshake: EPERM from pidfd_getfd.
    expect(r.stderr).not.toMatch(/EPERM/);
    expect(r.stdout).toBe('listened\n');
    expect(r.status).toBe(0);
  });

  it('a supervisor with many fds open: the listener still fits under the jail\'s RLIMIT_NOFILE of 32 (inherited fds are closed, not only marked)', async () => {
    const script = `
      const fs = require('fs');
      for (let i = 0; i < 64; i++) fs.openSync('/dev/null', 'r');
      const config = { mount: [{ src: '/', dst: '/', is_bind: true }], seccomp_unotify: true, rlimit_nofile: 32 };
      const runs = Array.from({ length: 4 }, () => jail.run({ command: ['/bin/sh', '-c', 'ls /proc/self/fd | wc -l'], config }));
      Promise.all(runs).then((rs) => console.log(JSON.stringify(rs.map((r) => ({ outcome: r.outcome, error: r.error?.message, out: r.stdout.trim() })))));
    `;
    const out = scriptJson(await runNodeScript(script, { timeoutMs: 30_000 })) as unknown as Array<Record<string, unknown>>;
    // The program sees 0, 1, 2 and the directory ls reads (wc's pipe end too): a handful, never the 64.
    for (const r of out) {
      expect(r.outcome, JSON.stringify(r)).toBe('exited');
      expect(Number(r.out)).toBeLessThan(8);
    }
  });

  it('--seccomp_unotify: the report counts what nsjail watches (execve, openat, ...); the events on fd:3 match the counts', async () => {
    const r = await cli(['-q', '--report', 'json', '--chroot', '/', '--seccomp_unotify', '--events', 'fd:3', '--', '/bin/cat', '/etc/hostname'], {
      extraStdio: ['pipe'],
    });
    expect(r.code).toBe(0);
    const { notifications } = lastJson(r.stderr);
    expect(notifications.bySyscall.execve).toBe(1);
    expect(notifications.bySyscall.openat).toBeGreaterThanOrEqual(1);
    const events = jsonLines(r.extra[3]);
    expect(events).toHaveLength(notifications.total);
    const counted: Record<string, number> = {};
    for (const e of events) counted[e.name] = (counted[e.name] ?? 0) + 1;
    expect(counted).toEqual(notifications.bySyscall);
    // The policy still decides: a refused syscall is refused without a notification.
    const refused = await cli(['-q', '--report', 'json', '--chroot', '/', '--seccomp_unotify', '--seccomp_string', 'ERRNO(13) { openat } DEFAULT ALLOW', '--', '/bin/cat', '/etc/hostname']);
    expect(refused.code).not.toBe(0);
    expect(lastJson(refused.stderr).notifications.bySyscall.openat).toBeUndefined();
  });

  it('run(): onEvent gets the events, and the report has the counts', async () => {
    const seen: unknown[] = [];
    const r = await runFlags(['--chroot', '/', '--seccomp_string', NOTIFY_UNAME], ['/bin/uname'], { onEvent: (e) => seen.push(e) });
    expect(r.exitCode).toBe(0);
    expect(seen).toEqual([expect.objectContaining({ type: 'syscall', name: UNAME })]);
    expect(r.notifications).toEqual({ total: 1, bySyscall: { [UNAME]: 1 } });
  });

  it('the program never holds the listener: not among its fds, while the supervisor holds one', async () => {
    const argv = ['/bin/sleep', '7911'];
    const done = cli(['-q', '-t', '20', '--chroot', '/', '--seccomp_unotify', '--', ...argv]);
    await waitFor(() => processesWithArgv(argv).length === 1, 10_000, 'the jailed sleep to run');
    const [pid] = processesWithArgv(argv);
    expect(fdTargets(pid).filter((t) => t.includes('seccomp'))).toEqual([]);
    const supervisor = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    expect(fdTargets(supervisor)).toContain('anon_inode:seccomp notify');
    process.kill(pid, 'SIGKILL');
    await done;
  });

  it('a stopped supervisor holds the notified syscall; a SIGKILLed one makes it fail: the directory is never made', async () => {
    const made = path.join(tmp().dir, 'made');
    const argv = ['/bin/mkdir', made];
    let supervisor: import('node:child_process').ChildProcess | undefined;
    const done = cli(
      ['-q', '-t', '0', '--chroot', '/', '--rw', '--seccomp_string', 'USER_NOTIF { mkdir, mkdirat } DEFAULT ALLOW', '--', '/bin/sh', '-c', `sleep 1; exec ${argv.join(' ')}`],
      { onSpawn: (c) => (supervisor = c) },
    );
    // Stop the supervisor before mkdir runs, then wait until mkdir waits for an answer.
    await waitFor(() => processesWithArgv(['sleep', '1']).length > 0 || processesWithArgv(['/bin/sleep', '1']).length > 0, 10_000, 'the jail to start');
    supervisor!.kill('SIGSTOP');
    const waiting = () => processesWithArgv(argv).some((pid) => fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('seccomp'));
    await waitFor(waiting, 10_000, 'mkdir to wait in its notified syscall');
    await sleep(200);
    expect(fs.existsSync(made)).toBe(false);
    supervisor!.kill('SIGKILL');
    await done;
    await waitFor(() => processesWithArgv(argv).length === 0, 5000, 'the jail to end with its supervisor');
    expect(fs.existsSync(made)).toBe(false);
  });
});

describeIf('seccomp user notifications (rootless)', rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-unotify');
  it('USER_NOTIF { uname } and --seccomp_unotify work as an unprivileged user', async () => {
    const r = await fixture().jail(['-q', '--report', 'json', '--chroot', '/', '--seccomp_string', NOTIFY_UNAME, '--events', 'fd:2', '--', '/bin/uname', '-s']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Linux\n');
    expect(r.stderr).toContain(`"name":"${UNAME}"`);
    expect(lastJson(r.stderr).notifications).toEqual({ total: 1, bySyscall: { [UNAME]: 1 } });
    const u = await fixture().jail(['-q', '--report', 'json', '--chroot', '/', '--seccomp_unotify', '--', '/bin/true']);
    expect(u.code).toBe(0);
    expect(lastJson(u.stderr).notifications.bySyscall.execve).toBe(1);
  });
});
