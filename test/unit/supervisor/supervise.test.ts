/**
 * supervise() against the recording fake addon: how each way a jail can end becomes an
 * ExitReport, the time limit and AbortSignal, signalling, and that every fd the supervisor
 * holds is released exactly once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import '../../helpers/lazy-require';
import { JailError } from '../../../src/errors';
import { compilePolicy } from '../../../src/policy';
import { formatLogLine } from '../../../src/supervisor/log';
import { openStdio } from '../../../src/supervisor/stdio';
import { supervise, type JailHandle } from '../../../src/supervisor/supervise';
import { FakeAddon, FAKE_PID_BASE } from '../../helpers/fake-addon';
import { logSink, planned, recordingStdio, until } from './helpers';
import * as fs from 'node:fs';

const CHROOT = ['--chroot', '/', '--', '/bin/true'];
const NO_PIDNS = ['--disable_clone_newpid', '--disable_proc', '--chroot', '/', '--', '/bin/true'];

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Checks that the supervisor let go of everything the fake handed it. */
function expectReleased(fake: FakeAddon): void {
  expect(fake.openFakeFds()).toEqual([]);
  expect(fake.badCloses).toEqual([]);
  for (const j of fake.jails) expect(fake.callsOf('close').filter(([fd]) => fd === j.pidfd)).toHaveLength(1);
}

async function superviseWith(fake: FakeAddon, argv = CHROOT, opts: Partial<Parameters<typeof supervise>[2]> = {}) {
  const stdio = recordingStdio();
  const sink = logSink();
  const result = await supervise(fake, planned(argv), { timeLimit: 0, stdio, log: sink.log, ...opts });
  return { result, stdio, sink };
}

describe('outcome mapping', () => {
  it('an exit code passes through, with rusage in ms', async () => {
    const fake = new FakeAddon().script({ exit: { code: 3, rusage: { userTimeUs: 12_345, systemTimeUs: 6_000, maxRssKb: 777 } } });
    const { result, sink } = await superviseWith(fake);
    expect(result.report).toMatchObject({ outcome: 'exited', exitCode: 3, signal: null, userTimeMs: 12.345, systemTimeMs: 6, maxRssKb: 777 });
    expect(result.report.wallTimeMs).toBeGreaterThanOrEqual(0);
    expect(result.report.error).toBeUndefined();
    expect(sink.text()).toContain(`info: pid=${FAKE_PID_BASE} exited with status: 3`);
    expectReleased(fake);
  });

  it('exit code 0 and 255 are the program\'s own', async () => {
    for (const code of [0, 255]) {
      const { result } = await superviseWith(new FakeAddon().script({ exit: { code } }));
      expect(result.report).toMatchObject({ outcome: 'exited', exitCode: code });
    }
  });

  it('death by signal n is 128+n with the signal name', async () => {
    const cases: Array<[number, string]> = [[11, 'SIGSEGV'], [15, 'SIGTERM'], [6, 'SIGABRT'], [9, 'SIGKILL'], [1, 'SIGHUP']];
    for (const [n, name] of cases) {
      const fake = new FakeAddon().script({ exit: { signal: n } });
      const { result, sink } = await superviseWith(fake);
      expect(result.report).toMatchObject({ outcome: 'signaled', exitCode: 128 + n, signal: name });
      expect(sink.text()).toContain(`info: pid=${FAKE_PID_BASE} terminated with signal: ${name} (${n})`);
    }
  });

  it('SIGSYS is a seccomp violation (159), named from the kernel audit record of that pid', async () => {
    const filter = compilePolicy('KILL_PROCESS { newuname } DEFAULT ALLOW', { archs: ['x86_64'] });
    const fake = new FakeAddon().script({
      exit: { signal: 31, coreDumped: true },
      audit: (pid) => [
        // another jail's record first: must be ignored
        `audit: type=1326 audit(1795624402.350:1): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=${pid + 1} comm="x" exe="/x" sig=31 arch=c000003e syscall=59 compat=0 ip=0x1 code=0x80000000`,
        `audit: type=1326 audit(1795624402.351:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=${pid} comm="sigsys" exe="/tmp/exp/sigsys" sig=31 arch=c000003e syscall=63 compat=0 ip=0x7fc6c248c829 code=0x80000000`,
      ],
    });
    const stdio = recordingStdio();
    const sink = logSink();
    const p = planned(CHROOT, {}, filter);
    const { report } = await supervise(fake, p, { timeLimit: 0, stdio, log: sink.log });
    expect(report).toMatchObject({ outcome: 'seccomp-violation', exitCode: 159, signal: 'SIGSYS', seccomp: { syscall: 'newuname', nr: 63, arch: 'x86_64' } });
    expect(sink.text()).toContain(`warn: pid=${FAKE_PID_BASE} committed a syscall/seccomp violation and was killed by SIGSYS: newuname (x86_64)`);
    // The reader is opened before the launch, so the record cannot be missed, and closed after.
    const order = fake.calls.map((c) => c.fn);
    expect(order.indexOf('auditOpen')).toBeLessThan(order.indexOf('launch'));
    expectReleased(fake);
  });

  it('SIGSYS without a readable audit log: the syscall is unknown, and nothing waits', async () => {
    const fake = new FakeAddon().script({ exit: { signal: 31 } });
    fake.auditKind = 'none';
    const filter = compilePolicy('KILL_PROCESS { newuname } DEFAULT ALLOW', { archs: ['x86_64'] });
    const { report } = await supervise(fake, planned(CHROOT, {}, filter), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log });
    expect(report).toMatchObject({ outcome: 'seccomp-violation', exitCode: 159, seccomp: { syscall: null, nr: null, arch: null } });
    expect(fake.callsOf('auditRead')).toEqual([]);
    expectReleased(fake);
  });

  it('SIGSYS when the record never comes: gives up after a bounded wait (fake clock)', async () => {
    vi.useFakeTimers();
    const fake = new FakeAddon().script({ exit: { signal: 31 } });
    const filter = compilePolicy('KILL_PROCESS { newuname } DEFAULT ALLOW', { archs: ['x86_64'] });
    let done = false;
    const run = supervise(fake, planned(CHROOT, {}, filter), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log }).finally(() => {
      done = true;
    });
    await until(() => fake.callsOf('auditRead').length > 0, 'the first audit read');
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    await until(() => done, 'supervise to finish');
    const { report } = await run;
    expect(report.seccomp).toEqual({ syscall: null, nr: null, arch: null });
    expect(fake.callsOf('auditRead').length).toBeGreaterThan(1);
    expect(fake.callsOf('auditRead').length).toBeLessThan(100);
    expectReleased(fake);
  });

  it('without a seccomp filter no audit reader is opened', async () => {
    const fake = new FakeAddon().script({ exit: { code: 0 } });
    await superviseWith(fake);
    expect(fake.callsOf('auditOpen')).toEqual([]);
  });
});

describe('setup failures', () => {
  it('become outcome setup-failed, exit 255, with the message in the report and the log', async () => {
    const fake = new FakeAddon().script({ fail: { stage: 'execve', opIndex: -1, errno: 2 } });
    const stdio = recordingStdio();
    const sink = logSink();
    const { report } = await supervise(fake, planned(['--', '/nonexistent']), { timeLimit: 10, stdio, log: sink.log });
    expect(report).toMatchObject({ outcome: 'setup-failed', exitCode: 255, signal: null, userTimeMs: 0, systemTimeMs: 0, maxRssKb: 0 });
    expect(report.error).toMatchObject({ stage: 'execve', errno: 'ENOENT' });
    expect(report.error!.message).toMatch(/^execve '\/nonexistent' inside the jail: ENOENT \(no such file or directory\)\n  hint: /);
    expect(sink.events.filter((e) => e.level === 'error').map((e) => e.message)).toEqual([report.error!.message]);
    // The failed child was killed by the addon, not reaped: the supervisor reaps it. It never ran
    // the program, so there is no output to wait for.
    expect(stdio.events).toEqual(['closeChildEnds', 'destroy']);
    expect(fake.callsOf('watchExit')).toEqual([[fake.lastJail.pidfd, fake.lastJail.pid]]);
    expect(fake.reaped).toEqual([fake.lastJail.pid]);
    expect(fake.callsOf('kill')).toEqual([]);
    expectReleased(fake);
  });

  it('a failed clone leaves nothing to reap: no watch, stdio destroyed', async () => {
    const fake = new FakeAddon().script({ fail: { stage: 'clone', opIndex: -1, errno: 1 } });
    const stdio = recordingStdio();
    const { report } = await supervise(fake, planned(CHROOT), { timeLimit: 10, stdio, log: logSink().log });
    expect(report).toMatchObject({ outcome: 'setup-failed', error: { stage: 'clone', errno: 'EPERM' } });
    expect(stdio.events).toEqual(['closeChildEnds', 'destroy']);
    expect(fake.callsOf('watchExit')).toEqual([]);
    expectReleased(fake);
  });

  it('the time limit covers the setup: a setup that hangs is killed and reported as a timeout', async () => {
    vi.useFakeTimers();
    const fake = new FakeAddon().script({ setupHangs: true });
    let started = false;
    let done = false;
    const run = supervise(fake, planned(CHROOT), { timeLimit: 3, stdio: recordingStdio(), log: logSink().log, onStart: () => (started = true) }).finally(() => {
      done = true;
    });
    await until(() => fake.callsOf('watchExit').length === 1, 'the jail to be watched');
    await vi.advanceTimersByTimeAsync(3000);
    await until(() => done, 'supervise to finish');
    expect((await run).report).toMatchObject({ outcome: 'timeout', exitCode: 137, signal: 'SIGKILL' });
    expect(fake.callsOf('kill')).toEqual([[fake.lastJail.pidfd, 9]]);
    expect(started).toBe(false);
    expectReleased(fake);
  });

  it('a plan the addon refuses is an internal JailError; stdio and the audit reader are released', async () => {
    const fake = new FakeAddon().script({ throws: new TypeError('invalid plan: plan.cwd: expected a string') });
    const stdio = recordingStdio();
    const filter = compilePolicy('DEFAULT ALLOW', { archs: ['x86_64'] });
    const err = await supervise(fake, planned(CHROOT, {}, filter), { timeLimit: 0, stdio, log: logSink().log }).catch((e) => e);
    expect(err).toBeInstanceOf(JailError);
    expect((err as JailError).code).toBe('internal');
    expect((err as JailError).message).toBe('the addon refused the plan: invalid plan: plan.cwd: expected a string');
    expect(stdio.events).toEqual(['destroy']);
    expectReleased(fake);
  });

  it('--execute_fd: the binary is opened O_PATH for the launch and closed right after it', async () => {
    const fake = new FakeAddon().script({ exit: { code: 0 } });
    const p = planned(['--execute_fd', '--chroot', '/', '--', 'python3']);
    await supervise(fake, p, { timeLimit: 0, stdio: recordingStdio(), log: logSink().log });
    expect(fake.callsOf('openPath')).toEqual([['/usr/bin/python3', false]]);
    const [, resources] = fake.callsOf('launch')[0] as [unknown, { execFd: number }];
    expect(resources.execFd).toBeGreaterThanOrEqual(100_000);
    const order = fake.calls.map((c) => `${c.fn}${c.fn === 'close' ? ` ${c.args[0]}` : ''}`);
    expect(order.indexOf(`close ${resources.execFd}`)).toBe(order.indexOf('launch') + 1);
    expectReleased(fake);
  });

  it('--execute_fd of a path that cannot be opened: not-found, nothing launched', async () => {
    const fake = new FakeAddon();
    fake.missingPaths.add('/usr/bin/python3');
    const stdio = recordingStdio();
    const err = await supervise(fake, planned(['--execute_fd', '--', 'python3']), { timeLimit: 0, stdio, log: logSink().log }).catch((e) => e);
    expect((err as JailError).code).toBe('not-found');
    expect((err as JailError).message).toContain("--execute_fd: cannot open '/usr/bin/python3'");
    expect(fake.callsOf('launch')).toEqual([]);
    expect(stdio.events).toEqual(['destroy']);
  });
});

describe('time limit (fake clock)', () => {
  it('kills the jail with SIGKILL when the limit passes: outcome timeout, 137', async () => {
    vi.useFakeTimers();
    const fake = new FakeAddon().script({ exit: 'never' });
    const sink = logSink();
    let done = false;
    const run = supervise(fake, planned(CHROOT), { timeLimit: 5, stdio: recordingStdio(), log: sink.log }).finally(() => {
      done = true;
    });
    await until(() => fake.callsOf('watchExit').length === 1, 'the jail to be watched');
    await vi.advanceTimersByTimeAsync(4999);
    expect(fake.callsOf('kill')).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.callsOf('kill')).toEqual([[fake.lastJail.pidfd, 9]]);
    await until(() => done, 'supervise to finish');
    const { report } = await run;
    expect(report).toMatchObject({ outcome: 'timeout', exitCode: 137, signal: 'SIGKILL' });
    expect(sink.text()).toContain(`info: pid=${FAKE_PID_BASE} run time >= time limit (5 s): killing the jail`);
    expectReleased(fake);
  });

  it('a jail that ends in time clears its timer', async () => {
    vi.useFakeTimers();
    const fake = new FakeAddon().script({ exit: 'never' });
    let done = false;
    const run = supervise(fake, planned(CHROOT), { timeLimit: 5, stdio: recordingStdio(), log: logSink().log }).finally(() => {
      done = true;
    });
    await until(() => fake.callsOf('watchExit').length === 1, 'the jail to be watched');
    expect(vi.getTimerCount()).toBe(1);
    fake.lastJail.end({ code: 0 });
    await until(() => done, 'supervise to finish');
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fake.callsOf('kill')).toEqual([]);
    expect((await run).report.outcome).toBe('exited');
  });

  it('time limit 0 sets no timer', async () => {
    vi.useFakeTimers();
    const fake = new FakeAddon().script({ exit: 'never' });
    let done = false;
    void supervise(fake, planned(CHROOT), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log }).finally(() => {
      done = true;
    });
    await until(() => fake.callsOf('watchExit').length === 1, 'the jail to be watched');
    expect(vi.getTimerCount()).toBe(0);
    fake.lastJail.end({ code: 0 });
    await until(() => done, 'supervise to finish');
  });

  it('a time limit beyond setTimeout\'s 2^31-1 ms (any uint32 time_limit is valid) does not fire at once', async () => {
    // Node clamps a longer setTimeout delay to 1 ms. 3,000,000 s is about 35 days.
    const fake = new FakeAddon().script({ exit: 'never' });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const run = supervise(fake, planned(CHROOT), { timeLimit: 3_000_000, stdio: recordingStdio(), log: logSink().log });
      await until(() => fake.callsOf('watchExit').length === 1, 'the jail to be watched');
      await new Promise((r) => setTimeout(r, 50)); // real time: far more than the clamped 1 ms
      expect(fake.callsOf('kill')).toEqual([]);
      fake.lastJail.end({ code: 0 });
      expect((await run).report.outcome).toBe('exited');
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a program that exits normally while the limit kills it is reported as exited, not timeout', async () => {
    vi.useFakeTimers();
    const fake = new FakeAddon().script({ exit: 'never', onKill: () => ({ code: 0 }) });
    let done = false;
    const run = supervise(fake, planned(CHROOT), { timeLimit: 1, stdio: recordingStdio(), log: logSink().log }).finally(() => {
      done = true;
    });
    await until(() => fake.callsOf('watchExit').length === 1, 'the jail to be watched');
    await vi.advanceTimersByTimeAsync(1000);
    await until(() => done, 'supervise to finish');
    expect((await run).report).toMatchObject({ outcome: 'exited', exitCode: 0 });
  });
});

describe('stopping and signalling', () => {
  it('an AbortSignal kills the jail; the report says signaled SIGKILL', async () => {
    const fake = new FakeAddon().script({ exit: 'never' });
    const ac = new AbortController();
    const sink = logSink();
    const run = supervise(fake, planned(CHROOT), { timeLimit: 0, stdio: recordingStdio(), log: sink.log, signal: ac.signal });
    await until(() => fake.callsOf('watchExit').length === 1, 'the jail to be watched');
    ac.abort();
    const { report } = await run;
    expect(report).toMatchObject({ outcome: 'signaled', exitCode: 137, signal: 'SIGKILL' });
    expect(fake.lastJail.signals).toEqual([9]);
    expect(sink.text()).toContain(`info: pid=${FAKE_PID_BASE} stopped on request: killing the jail`);
    expectReleased(fake);
  });

  it('an AbortSignal aborted before the start kills the jail as soon as it runs', async () => {
    const fake = new FakeAddon().script({ exit: 'never' });
    const { report } = await supervise(fake, planned(CHROOT), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log, signal: AbortSignal.abort() });
    expect(report).toMatchObject({ outcome: 'signaled', signal: 'SIGKILL' });
    expect(fake.lastJail.signals).toEqual([9]);
  });

  it('aborting after the end does nothing', async () => {
    const fake = new FakeAddon().script({ exit: { code: 0 } });
    const ac = new AbortController();
    await supervise(fake, planned(CHROOT), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log, signal: ac.signal });
    ac.abort();
    expect(fake.callsOf('kill')).toEqual([]);
  });

  it('the handle signals the jail through its pidfd; with a PID namespace nothing else is signalled', async () => {
    const fake = new FakeAddon().script({ exit: 'never', onKill: (s) => (s === 9 ? { signal: 9 } : 'ignore') });
    let handle: JailHandle | undefined;
    const run = supervise(fake, planned(CHROOT), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log, onStart: (h) => (handle = h) });
    await until(() => handle !== undefined, 'the jail to start');
    expect(handle!.pid).toBe(fake.lastJail.pid);
    handle!.kill(15);
    handle!.kill(9);
    await run;
    expect(fake.callsOf('kill')).toEqual([[fake.lastJail.pidfd, 15], [fake.lastJail.pidfd, 9]]);
    expect(fake.callsOf('killGroup')).toEqual([]);
    // After the end the handle is inert: the pidfd is closed and nothing is sent.
    handle!.kill(9);
    expect(fake.callsOf('kill')).toHaveLength(2);
    expectReleased(fake);
  });

  it('without a PID namespace SIGKILL also goes to the jail init\'s process group', async () => {
    const fake = new FakeAddon().script({ exit: 'never' });
    let handle: JailHandle | undefined;
    const run = supervise(fake, planned(NO_PIDNS, { cgroups: 'v2' }), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log, onStart: (h) => (handle = h) });
    await until(() => handle !== undefined, 'the jail to start');
    handle!.kill(9);
    await run;
    expect(fake.callsOf('killGroup')).toEqual([[fake.lastJail.pid, 9]]);
  });

  it('a time-limit kill without a PID namespace reaches the process group too', async () => {
    vi.useFakeTimers();
    const fake = new FakeAddon().script({ exit: 'never' });
    let done = false;
    const run = supervise(fake, planned(NO_PIDNS, { cgroups: 'v2' }), { timeLimit: 2, stdio: recordingStdio(), log: logSink().log }).finally(() => {
      done = true;
    });
    await until(() => fake.callsOf('watchExit').length === 1, 'the jail to be watched');
    await vi.advanceTimersByTimeAsync(2000);
    await until(() => done, 'supervise to finish');
    expect((await run).report.outcome).toBe('timeout');
    expect(fake.callsOf('killGroup')).toEqual([[fake.lastJail.pid, 9]]);
  });

  it('an onStart callback that throws does not leave the jail running or its pidfd open', async () => {
    const fake = new FakeAddon().script({ exit: 'never' });
    const outcome = await supervise(fake, planned(CHROOT), {
      timeLimit: 0,
      stdio: recordingStdio(),
      log: logSink().log,
      onStart: () => {
        throw new Error('caller bug');
      },
    }).then(
      (r) => ({ resolved: r }),
      (e) => ({ rejected: e }),
    );
    expect(outcome).toBeDefined();
    await until(() => fake.jails.length === 1, 'the launch');
    // Either way, the jail must not outlive supervise(): killed, reaped, pidfd closed.
    expect(fake.lastJail.exited).toBe(true);
    expect(fake.reaped).toEqual([fake.lastJail.pid]);
    expectReleased(fake);
  });
});

describe('stdio', () => {
  it('the jail\'s ends are closed once the jail holds them: after launch, before waiting', async () => {
    const fake = new FakeAddon().script({ exit: { code: 0 } });
    const stdio = recordingStdio();
    const order: string[] = [];
    const orig = stdio.closeChildEnds;
    stdio.closeChildEnds = () => {
      order.push(`closeChildEnds after ${fake.calls.map((c) => c.fn).join(',')}`);
      orig();
    };
    const result = await supervise(fake, planned(CHROOT), { timeLimit: 0, stdio, log: logSink().log, drainMs: 50 });
    expect(order).toEqual(['closeChildEnds after launch']);
    expect(stdio.events).toEqual(['closeChildEnds', 'finish']);
    expect(stdio.finishGrace).toEqual([50]);
    expect(result.stdout).toBeUndefined();
  });

  it('the default drain wait is 200 ms', async () => {
    const stdio = recordingStdio();
    await supervise(new FakeAddon(), planned(CHROOT), { timeLimit: 0, stdio, log: logSink().log });
    expect(stdio.finishGrace).toEqual([200]);
  });

  it('captured output through real pipes, with the cap; the launch gets the pipes\' write ends', async () => {
    const fake = new FakeAddon().script({
      onLaunch: (_plan, res) => {
        fs.writeSync(res.stdio[1], 'hello from the jail\n');
        fs.writeSync(res.stdio[2], 'x'.repeat(100));
      },
      exit: { code: 0 },
    });
    const stdio = openStdio(fake, { stdin: 'ignore', stdout: 'capture', stderr: 'capture', maxOutputBytes: 64 });
    const [, out, err] = stdio.fds;
    const result = await supervise(fake, planned(CHROOT), { timeLimit: 0, stdio, log: logSink().log, drainMs: 5000 });
    expect(result.stdout).toEqual({ data: Buffer.from('hello from the jail\n'), truncated: false });
    expect(result.stderr).toEqual({ data: Buffer.from('x'.repeat(64)), truncated: true });
    const [, resources] = fake.callsOf('launch')[0] as [unknown, { stdio: number[] }];
    expect(resources.stdio.slice(1)).toEqual([out, err]); // stdin: see stdio.test.ts
    // both write ends closed through the addon, once each, after the launch
    const closes = fake.calls.map((c, i) => [c, i] as const).filter(([c]) => c.fn === 'close' && (c.args[0] === out || c.args[0] === err));
    expect(closes).toHaveLength(2);
    const launchAt = fake.calls.findIndex((c) => c.fn === 'launch');
    for (const [, i] of closes) expect(i).toBeGreaterThan(launchAt);
    expect(fake.openRealFds().filter((fd) => fd === out || fd === err)).toEqual([]);
    expectReleased(fake);
  });
});

describe('log lines', () => {
  it("nsjail's shape: [L][ISO time+0000] message", () => {
    const line = formatLogLine({ level: 'info', message: 'pid=5 exited with status: 0', time: new Date(Date.UTC(2026, 10, 25, 16, 0, 0, 123)) });
    expect(line).toBe('[I][2026-11-25T16:00:00+0000] pid=5 exited with status: 0\n');
    for (const [level, letter] of [['debug', 'D'], ['warn', 'W'], ['error', 'E']] as const) {
      expect(formatLogLine({ level, message: 'm', time: new Date(0) })).toBe(`[${letter}][1970-01-01T00:00:00+0000] m\n`);
    }
  });

  it('a run logs its mounts at debug, its start and end at info', async () => {
    const sink = logSink('debug');
    await supervise(new FakeAddon().script({ exit: { code: 7 } }), planned(CHROOT), { timeLimit: 0, stdio: recordingStdio(), log: sink.log });
    expect(sink.text()).toEqual([
      'debug: mount #1 / -> / (bind, ro)',
      'debug: mount #2 proc -> /proc (proc, ro)',
      expect.stringMatching(/^debug: namespaces: 0x[0-9a-f]+, uid \d+, gid \d+, hostname NSJAIL, time limit 0 s$/),
      `info: pid=${FAKE_PID_BASE} executing '/bin/true' (argv: ["/bin/true"])`,
      `info: pid=${FAKE_PID_BASE} exited with status: 7`,
    ]);
    for (const e of sink.events) expect(formatLogLine(e)).toMatch(/^\[[DI]\]\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000\] \S/);
    const quiet = logSink('info');
    await supervise(new FakeAddon(), planned(CHROOT), { timeLimit: 0, stdio: recordingStdio(), log: quiet.log });
    expect(quiet.events.map((e) => e.level)).toEqual(['info', 'info']);
  });
});
