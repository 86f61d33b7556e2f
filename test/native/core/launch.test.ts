/**
 * Real launches that need no root (they run as root and as an ordinary user alike): how the
 * kernel's view of the jail's end maps to the report, and the step the addon names when a setup
 * step fails ({stage, opIndex, errno}), down to the sentence the supervisor writes.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import type { ExitInfo, LaunchResources, NativeAddon } from '../../../src/native/types';
import type { PlannedJail } from '../../../src/sandbox';
import type { JailPlan } from '../../../src/sandbox/plan';
import { compilePolicy, hostArch } from '../../../src/policy';
import { makeLogger } from '../../../src/supervisor/log';
import { openStdio } from '../../../src/supervisor/stdio';
import { supervise } from '../../../src/supervisor/supervise';
import { JailError } from '../../../src/errors';
import { childPids, hostPlan, hostWith, launchToExec, probePath, requireAddon } from '../../helpers/native';

let addon: NativeAddon;
beforeAll(() => {
  addon = requireAddon();
});
afterEach(() => {
  // The addon reaps every child it started, failed ones included.
  expect(childPids()).toEqual([]);
});

const ENOENT = 2;
const EINVAL = 22;
const none = (): LaunchResources => ({ stdio: [-1, -1, -1], passFds: [], execFd: -1, cgroupFd: -1, netGate: [-1, -1] });

async function runPlanned(planned: PlannedJail, opts: { signal?: AbortSignal; timeLimit?: number } = {}) {
  const stdio = openStdio(addon, { stdin: 'ignore', stdout: 'capture', stderr: 'capture', maxOutputBytes: 1 << 20 });
  const logs: string[] = [];
  const result = await supervise(addon, planned, {
    timeLimit: opts.timeLimit ?? 0,
    stdio,
    log: makeLogger((e) => logs.push(`${e.level}: ${e.message}`), 'debug'),
    signal: opts.signal,
  });
  return { ...result, logs };
}

/** launch() directly; a started jail is waited for and its pidfd closed. */
async function launchRaw(plan: JailPlan): Promise<{ ok: true; info: ExitInfo } | { ok: false; stage: string; opIndex: number; errno: number }> {
  const r = await launchToExec(addon, plan, none());
  if (!r.ok) return r;
  const info = await new Promise<ExitInfo>((resolve) => addon.watchExit(r.pidfd, r.pid, resolve));
  expect(addon.close(r.pidfd)).toBe(0);
  return { ok: true, info };
}

describe('exit mapping through real launches', () => {
  it("the program's exit code passes through (sh -c 'exit 3')", async () => {
    const { report, logs } = await runPlanned(hostPlan(['--chroot', '/', '--', '/bin/sh', '-c', 'exit 3']));
    expect(report).toMatchObject({ outcome: 'exited', exitCode: 3, signal: null });
    expect(report.wallTimeMs).toBeGreaterThan(0);
    expect(report.maxRssKb).toBeGreaterThan(0);
    expect(logs.some((l) => /^info: pid=\d+ exited with status: 3$/.test(l))).toBe(true);
  });

  it('the default jail (all namespaces, user namespace mapping only the caller) runs and captures output', async () => {
    const { report, stdout, stderr } = await runPlanned(hostPlan(['--chroot', '/', '--', '/bin/sh', '-c', 'echo out; echo err >&2; id -u']));
    expect(report.outcome).toBe('exited');
    expect(report.exitCode).toBe(0);
    const lines = stdout!.data.toString().split('\n');
    expect(lines[0]).toBe('out');
    expect(lines[1]).toBe(String(process.geteuid!())); // the caller's own id, mapped to itself
    expect(stderr!.data.toString()).toBe('err\n');
  });

  it('a segmentation fault of the jail init (a real fault: init ignores a kill from inside its PID namespace): signaled 11, exit code 139', async () => {
    const { report } = await runPlanned(hostPlan(['--chroot', '/', '--', probePath(), 'segv']));
    expect(report).toMatchObject({ outcome: 'signaled', exitCode: 139, signal: 'SIGSEGV' });
  });

  it('an AbortSignal ends a running jail with SIGKILL', async () => {
    const ac = new AbortController();
    const planned = hostPlan(['--chroot', '/', '--', '/bin/sleep', '30']);
    const running = runPlanned(planned, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const { report } = await running;
    expect(report).toMatchObject({ outcome: 'signaled', exitCode: 137, signal: 'SIGKILL' });
  });

  it('the time limit ends a running jail: timeout, 137', async () => {
    const { report } = await runPlanned(hostPlan(['--chroot', '/', '--', '/bin/sleep', '30']), { timeLimit: 1 });
    expect(report).toMatchObject({ outcome: 'timeout', exitCode: 137, signal: 'SIGKILL' });
  });

  it('a seccomp KILL_PROCESS action: seccomp-violation, 159', async () => {
    const filter = compilePolicy('KILL_PROCESS { newuname } DEFAULT ALLOW');
    const { report } = await runPlanned(hostPlan(['--chroot', '/', '--', '/bin/uname'], { filter }));
    expect(report).toMatchObject({ outcome: 'seccomp-violation', exitCode: 159, signal: 'SIGSYS' });
    // Unprivileged there may be no audit record to read; when there is one it must be right.
    if (report.seccomp!.syscall !== null) expect(report.seccomp).toEqual({ syscall: 'newuname', nr: report.seccomp!.nr, arch: hostArch() });
  });
});

describe('failure stages', () => {
  it('execve of a missing file: stage execve, ENOENT, and the sentence says so', async () => {
    const planned = hostPlan(['--chroot', '/', '--', '/nonexistent/program']);
    expect(await launchRaw(planned.plan)).toEqual({ ok: false, stage: 'execve', opIndex: -1, errno: ENOENT });
    const { report } = await runPlanned(planned);
    expect(report).toMatchObject({ outcome: 'setup-failed', exitCode: 255, error: { stage: 'execve', errno: 'ENOENT' } });
    expect(report.error!.message).toMatch(/^execve '\/nonexistent\/program' inside the jail: ENOENT/);
  });

  it('a bind mount of a missing source: stage mount at the index of that mount op', async () => {
    const missing = `/nonexistent-jail-test-${process.pid}`;
    const planned = hostPlan(['--chroot', '/', '-R', `${missing}:/mnt`, '--', '/bin/true'], { host: hostWith([missing]) });
    const opIndex = planned.plan.mounts.findIndex((op) => op.op === 'mount' && op.source === missing);
    expect(opIndex).toBeGreaterThan(0);
    expect(await launchRaw(planned.plan)).toEqual({ ok: false, stage: 'mount', opIndex, errno: ENOENT });
    const { report } = await runPlanned(planned);
    expect(report.error).toMatchObject({ stage: 'mount', errno: 'ENOENT' });
    expect(report.error!.message).toContain(`mount #2 ${missing} -> /mnt (bind, ro): mount `);
  });

  it('an optional mount of a missing source is skipped and the jail runs', async () => {
    const missing = `/nonexistent-jail-test-${process.pid}`;
    const planned = hostPlan(['--chroot', '/', '-R', `${missing}:/mnt`, '--', '/bin/true'], { host: hostWith([missing]) });
    const plan = structuredClone(planned.plan);
    for (const op of plan.mounts) if (op.ref === 1) op.optional = true;
    expect(await launchRaw(plan)).toMatchObject({ ok: true, info: { kind: 'exited', code: 0 } });
  });

  it('chdir to a missing working directory: stage chdir', async () => {
    const planned = hostPlan(['--chroot', '/', '-D', '/nonexistent-cwd', '--', '/bin/true']);
    expect(await launchRaw(planned.plan)).toEqual({ ok: false, stage: 'chdir', opIndex: -1, errno: ENOENT });
    const { report } = await runPlanned(planned);
    expect(report.error!.message).toMatch(/^chdir to the working directory '\/nonexistent-cwd' inside the jail: ENOENT/);
  });

  it('a hostname longer than 64 bytes is caught by the planner; forced into a plan, the kernel refuses it', async () => {
    let err: unknown;
    try {
      hostPlan(['-H', 'h'.repeat(65), '--chroot', '/', '--', '/bin/true']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JailError);
    expect((err as JailError).message).toContain('is longer than 64 bytes');
    const plan = { ...hostPlan(['--chroot', '/', '--', '/bin/true']).plan, hostname: 'h'.repeat(65) };
    expect(await launchRaw(plan)).toEqual({ ok: false, stage: 'hostname', opIndex: -1, errno: EINVAL });
  });

  it('a uid that the user namespace does not map: stage setid, EINVAL', async () => {
    const plan = { ...hostPlan(['--chroot', '/', '--', '/bin/true']).plan, uid: 4242 };
    expect(plan.idmap.uidMap).not.toMatch(/^4242 /);
    expect(await launchRaw(plan)).toEqual({ ok: false, stage: 'setid', opIndex: -1, errno: EINVAL });
  });

  it('an rlimit the process may not raise: stage rlimit at its index (in a user namespace even root cannot)', async () => {
    const plan = structuredClone(hostPlan(['--chroot', '/', '--', '/bin/true']).plan);
    const i = plan.rlimits.findIndex((r) => r.resource === 7);
    plan.rlimits[i] = { resource: 7, cur: '1073741824', max: '1073741824' }; // above nr_open's hard limit
    const r = await launchRaw(plan);
    expect(r).toMatchObject({ ok: false, stage: 'rlimit', opIndex: i });
  });
});
