/**
 * Supervising one jail: launch it, enforce the wall-time limit, stop it on request, wait for
 * its end and write the ExitReport. All kernel work goes through the addon.
 */
import { JailError } from '../errors';
import { EXIT_OOM, EXIT_SECCOMP, EXIT_SETUP_FAILED, EXIT_TIMEOUT } from '../exit-codes';
import type { ExitInfo, NativeAddon } from '../native/types';
import type { PlannedJail } from '../sandbox';
import { CLONE_NEWPID, SIGKILL } from '../sandbox/kernel';
import { openCgroupSession, type CgroupSession } from '../cgroup';
import type { Logger } from './log';
import { type ExitReport, signalName } from './report';
import { describeSetupFailure } from './setup-error';
import { openViolationReader } from './violation';
import type { Captured, JailStdio } from './stdio';

const SIGSYS = 31;

export interface SuperviseOptions {
  /** Seconds; 0 = no limit. */
  timeLimit: number;
  stdio: JailStdio;
  log: Logger;
  /** Aborting kills the jail (SIGKILL); the report then says 'signaled'. */
  signal?: AbortSignal;
  /** Called once the program runs (after execve), with a handle to signal it. */
  onStart?: (jail: JailHandle) => void;
  /** Extra time to wait for the jail's output pipes to drain after its end. */
  drainMs?: number;
}

export interface JailHandle {
  /** Host pid of the jail's init. */
  pid: number;
  /** Sends a signal to the jail's init (and, without a PID namespace, its process group). */
  kill(signal: number): void;
}

export interface SupervisedResult {
  report: ExitReport;
  stdout?: Captured;
  stderr?: Captured;
}

/** setTimeout for any delay: Node clamps delays above 2^31-1 ms (24.8 days) to 1 ms. */
function longTimeout(fn: () => void, ms: number): { cancel(): void } {
  const MAX = 2 ** 31 - 1;
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(() => (left > MAX ? arm(left - MAX) : fn()), Math.min(left, MAX));
  };
  arm(ms);
  return { cancel: () => clearTimeout(timer) };
}

function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function supervise(addon: NativeAddon, planned: PlannedJail, opts: SuperviseOptions): Promise<SupervisedResult> {
  const start = process.hrtime.bigint();
  const { plan } = planned;
  let execFd = -1;
  if (planned.execFdPath !== null) {
    try {
      execFd = addon.openPath(planned.execFdPath, false);
    } catch (e) {
      opts.stdio.destroy();
      throw new JailError('not-found', `--execute_fd: cannot open '${planned.execFdPath}': ${(e as Error).message}`);
    }
  }
  for (const m of planned.mounts) opts.log.debug(m.describe);
  opts.log.debug(`namespaces: 0x${plan.cloneFlags.toString(16)}, uid ${plan.uid}, gid ${plan.gid}, hostname ${plan.hostname ?? '(host)'}, time limit ${opts.timeLimit} s`);
  let cgroup: CgroupSession | null = null;
  // Opened before launch so the kernel's record of a seccomp kill cannot be missed.
  const violations = plan.seccomp ? openViolationReader(addon) : null;
  let launched;
  try {
    if (plan.cgroup) cgroup = openCgroupSession(addon, plan.cgroup, opts.log);
    launched = await addon.launch(plan, {
      stdio: opts.stdio.fds,
      passFds: planned.passFds,
      execFd,
      cgroupFd: cgroup?.cloneFd ?? -1,
    });
  } catch (e) {
    opts.stdio.destroy();
    cgroup?.destroy();
    violations?.close();
    if (e instanceof JailError) throw e;
    throw new JailError('internal', `the addon refused the plan: ${(e as Error).message}`, { cause: e });
  } finally {
    if (execFd >= 0) addon.close(execFd);
  }
  opts.stdio.closeChildEnds();

  if (!launched.ok) {
    const error = describeSetupFailure(planned, launched);
    opts.log.error(error.message);
    opts.stdio.destroy();
    cgroup?.destroy();
    violations?.close();
    return {
      report: {
        outcome: 'setup-failed',
        exitCode: EXIT_SETUP_FAILED,
        signal: null,
        wallTimeMs: msSince(start),
        userTimeMs: 0,
        systemTimeMs: 0,
        maxRssKb: 0,
        error,
      },
    };
  }

  const { pid, pidfd } = launched;
  const hasPidns = (plan.cloneFlags & CLONE_NEWPID) !== 0;
  let exited = false;
  let timedOut = false;
  const handle: JailHandle = {
    pid,
    kill(signal) {
      if (exited) return;
      addon.kill(pidfd, signal);
      if (signal === SIGKILL) void cgroup?.killAll();
      // With a PID namespace, killing its init kills everything in it. Without one, the jail's
      // init leads its own session and process group (setsid), which reaches most of it.
      if (!hasPidns && plan.setsid && signal === SIGKILL) addon.killGroup(pid, signal);
    },
  };
  // Watched before anything else can go wrong, so the jail is always reaped.
  const exit = new Promise<ExitInfo>((resolve) => addon.watchExit(pidfd, pid, resolve));
  opts.log.info(`pid=${pid} executing '${plan.exec.path}' (argv: ${JSON.stringify(plan.exec.argv)})`);
  let startError: unknown;
  try {
    opts.onStart?.(handle);
  } catch (e) {
    // The caller's callback failed: the jail must not outlive the call that started it.
    startError = e;
    handle.kill(SIGKILL);
  }

  const timer =
    opts.timeLimit > 0
      ? longTimeout(() => {
          timedOut = true;
          opts.log.info(`pid=${pid} run time >= time limit (${opts.timeLimit} s): killing the jail`);
          handle.kill(SIGKILL);
        }, opts.timeLimit * 1000)
      : undefined;
  const onAbort = () => {
    opts.log.info(`pid=${pid} stopped on request: killing the jail`);
    handle.kill(SIGKILL);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

  const info = await exit;
  exited = true;
  timer?.cancel();
  opts.signal?.removeEventListener('abort', onAbort);
  addon.close(pidfd);
  const stats = cgroup ? await cgroup.finish() : undefined;
  const wallTimeMs = msSince(start);

  const base = {
    wallTimeMs,
    userTimeMs: info.rusage.userTimeUs / 1000,
    systemTimeMs: info.rusage.systemTimeUs / 1000,
    maxRssKb: info.rusage.maxRssKb,
  };
  let report: ExitReport;
  if (info.kind === 'exited') {
    report = { outcome: 'exited', exitCode: info.code, signal: null, ...base };
    opts.log.info(`pid=${pid} exited with status: ${info.code}`);
  } else if (timedOut && info.signal === SIGKILL) {
    report = { outcome: 'timeout', exitCode: EXIT_TIMEOUT, signal: 'SIGKILL', ...base };
  } else if (info.signal === SIGKILL && stats?.oomKilled) {
    // The cgroup session has already said so in words (which limit, how many processes).
    report = { outcome: 'oom', exitCode: EXIT_OOM, signal: 'SIGKILL', ...base };
  } else if (info.signal === SIGSYS) {
    const seccomp = (await violations?.identify(pid)) ?? { syscall: null, nr: null, arch: null };
    report = { outcome: 'seccomp-violation', exitCode: EXIT_SECCOMP, signal: 'SIGSYS', ...base, seccomp };
    const which = seccomp.syscall ?? (seccomp.nr !== null ? `syscall #${seccomp.nr}` : 'a forbidden syscall');
    opts.log.warn(`pid=${pid} committed a syscall/seccomp violation and was killed by SIGSYS: ${which}${seccomp.arch ? ` (${seccomp.arch})` : ''}`);
  } else {
    report = { outcome: 'signaled', exitCode: 128 + info.signal, signal: signalName(info.signal), ...base };
    opts.log.info(`pid=${pid} terminated with signal: ${signalName(info.signal)} (${info.signal})`);
  }
  violations?.close();
  if (startError !== undefined) {
    await opts.stdio.finish(0);
    throw startError;
  }
  if (stats) Object.assign(report, stats);
  const output = await opts.stdio.finish(opts.drainMs ?? 200);
  return { report, ...output };
}
