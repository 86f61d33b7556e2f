/**
 * Supervising one jail, in four steps: acquire what the jail needs (exec fd, seccomp audit
 * reader, cgroups) -> launch -> await its end (the deadline and abort armed from the moment of
 * launch, so a setup that hangs is killed too) -> classify how it ended into an ExitReport.
 * Everything acquired is held by one `Held` and released in supervise()'s single `finally`:
 * a new resource (a network stack, a box session) is one more field there, not another branch.
 * All kernel work goes through the addon.
 */
import { JailError } from '../errors';
import { EXIT_OOM, EXIT_SECCOMP, EXIT_SETUP_FAILED, EXIT_TIMEOUT } from '../exit-codes';
import type { ExitInfo, NativeAddon, SeccompNotification, SetupFailure, SetupResult } from '../native/types';
import type { PlannedJail } from '../sandbox';
import { CLONE_NEWPID, SIGKILL } from '../sandbox/kernel';
import { openCgroupSession, type CgroupSession } from '../cgroup';
import type { Logger } from './log';
import { type CgroupStats, type ExitReport, signalName } from './report';
import { NotificationCounter, syscallEvent, type JailEvent } from './events';
import { UnotifyReport } from './unotify-report';
import { NetworkSession } from '../net/session';
import { netEventOf } from '../net/watch';
import { describeSetupFailure } from './setup-error';
import { openViolationReader, type ViolationReader } from './violation';
import type { Captured, JailStdio } from './stdio';

const SIGSYS = 31;

export interface SuperviseOptions {
  /** Seconds; 0 = no limit. Counted from the launch, so it covers the jail's setup too. */
  timeLimit: number;
  stdio: JailStdio;
  log: Logger;
  /** Aborting kills the jail (SIGKILL); the report then says 'signaled'. */
  signal?: AbortSignal;
  /** Called once the program runs (after execve), with a handle to signal it. */
  onStart?: (jail: JailHandle) => void;
  /** Extra time to wait for the jail's output pipes to drain after its end. */
  drainMs?: number;
  /** Each event of the jail (a notified syscall), before the syscall goes on. */
  onEvent?: (event: JailEvent) => void;
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

/** What one jail holds while it runs. release() gives back whatever is still held, once. */
class Held {
  execFd = -1;
  violations: ViolationReader | null = null;
  cgroup: CgroupSession | null = null;
  /** Set once the jail's init has been reaped: only then may the pidfd be closed. */
  pidfd = -1;
  /** The seccomp listener, answered by the addon until release. */
  listener = -1;
  /** The jail's network link and proxy, stopped at release. */
  network: NetworkSession | null = null;
  /** seccomp_unotify's report; its file is closed at release. */
  unotifyReport: UnotifyReport | null = null;
  stdioFinished = false;
  private readonly stops: Array<() => void> = [];

  constructor(
    private readonly addon: NativeAddon,
    private readonly stdio: JailStdio,
  ) {}

  /** Something to undo at release (a timer, a listener). */
  onRelease(stop: () => void): void {
    this.stops.push(stop);
  }

  closeExecFd(): void {
    if (this.execFd >= 0) this.addon.close(this.execFd);
    this.execFd = -1;
  }

  /** The cgroup's accounting, after killing what is left in it and removing it. */
  async finishCgroup(): Promise<CgroupStats | undefined> {
    const cgroup = this.cgroup;
    this.cgroup = null;
    return cgroup ? await cgroup.finish() : undefined;
  }

  release(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.closeExecFd();
    this.violations?.close();
    this.violations = null;
    this.cgroup?.destroy();
    this.cgroup = null;
    this.network?.stop();
    if (this.listener >= 0) this.addon.unwatchNotifications(this.listener);
    this.listener = -1;
    this.unotifyReport?.close();
    this.unotifyReport = null;
    if (this.pidfd >= 0) this.addon.close(this.pidfd);
    this.pidfd = -1;
    if (!this.stdioFinished) this.stdio.destroy();
  }
}

/** Step 1: the exec fd, the audit reader (open before launch so no record is missed), cgroups. */
function acquire(addon: NativeAddon, planned: PlannedJail, opts: SuperviseOptions, held: Held): void {
  if (planned.execFdPath !== null) {
    try {
      held.execFd = addon.openPath(planned.execFdPath, false);
    } catch (e) {
      throw new JailError('not-found', `--execute_fd: cannot open '${planned.execFdPath}': ${(e as Error).message}`);
    }
  }
  const { plan } = planned;
  for (const m of planned.mounts) opts.log.debug(m.describe);
  if (planned.unsetEnv.length > 0) opts.log.debug(`not set in the caller's environment, so not passed: ${planned.unsetEnv.join(', ')}`);
  opts.log.debug(`namespaces: 0x${plan.cloneFlags.toString(16)}, uid ${plan.uid}, gid ${plan.gid}, hostname ${plan.hostname ?? '(host)'}, time limit ${opts.timeLimit} s`);
  if (plan.seccomp) held.violations = openViolationReader(addon);
  if (plan.cgroup) held.cgroup = openCgroupSession(addon, plan.cgroup, opts.log);
  if (planned.unotifyReport) {
    held.unotifyReport = new UnotifyReport(planned.unotifyReport.file);
    held.unotifyReport.open();
  }
}

/** A launched jail: its handle, its setup and exit as promises, and why it was killed. */
interface Launched {
  handle: JailHandle;
  setup: Promise<SetupResult>;
  exit: Promise<ExitInfo>;
  timedOut: boolean;
  /** Notified syscalls so far, when the plan has a listener. */
  notifications: NotificationCounter | null;
}

/** Step 2: clone, and watch the exit at once, so the child is reaped whatever happens next. */
function launch(addon: NativeAddon, planned: PlannedJail, opts: SuperviseOptions, held: Held): Launched | SetupFailure {
  const { plan } = planned;
  let onSetup!: (r: SetupResult) => void;
  const setup = new Promise<SetupResult>((resolve) => (onSetup = resolve));
  const listens = (plan.seccomp?.listener.length ?? 0) > 0;
  const notifications = listens && planned.notifiesSyscalls ? new NotificationCounter() : null;
  const network = planned.network ? new NetworkSession(planned.network, opts.log, (e) => emit(opts, e), addon) : null;
  held.network = network;
  // Called by the addon during the launch: answering must start before this returns.
  const onListener = (fd: number) => {
    try {
      const unotifyReport = held.unotifyReport;
      const watch = (n: SeccompNotification) => {
        const netEvent = network ? netEventOf(n, planned.network!) : null;
        if (netEvent) network!.record(netEvent);
        if (notifications) {
          const event = syscallEvent(n);
          notifications.count(event);
          emit(opts, event);
        }
        unotifyReport?.record(n);
      };
      addon.watchNotifications(
        fd,
        (n) => {
          // Thrown into the addon, an error would leave the syscall unanswered: the jail would hang.
          try {
            watch(n);
          } catch (e) {
            opts.log.error(`pid=${n.pid} seccomp notification of syscall #${n.nr}: ${(e as Error).message} (answered anyway; please report this as a bug)`);
          }
        },
        unotifyReport !== null,
      );
      held.listener = fd;
      return true;
    } catch (e) {
      // Nobody could answer: the addon stops the launch (a setup failure) rather than let the
      // program's notified syscalls wait for an answer that never comes.
      addon.close(fd);
      opts.log.error(`cannot answer the jail's seccomp notifications: ${(e as Error).message}`);
      return false;
    }
  };
  let started;
  // The jail's init waits on this pipe until its network is up (plan.network.gate).
  const netGate: [number, number] = plan.network?.gate ? addon.pipe() : [-1, -1];
  try {
    const resources = { stdio: opts.stdio.fds, passFds: planned.passFds, execFd: held.execFd, cgroupFd: held.cgroup?.cloneFd ?? -1, netGate };
    started = addon.launch(plan, resources, onSetup, listens ? onListener : undefined);
  } catch (e) {
    for (const fd of netGate) if (fd >= 0) addon.close(fd);
    if (e instanceof JailError) throw e;
    throw new JailError('internal', `the addon refused the plan: ${(e as Error).message}`, { cause: e });
  }
  held.closeExecFd();
  opts.stdio.closeChildEnds();
  // The child has its own copy of the read end (and closes its copy of the write end).
  if (netGate[0] >= 0) addon.close(netGate[0]);
  if (!started.ok) {
    if (netGate[1] >= 0) addon.close(netGate[1]);
    return started;
  }

  const { pid, pidfd } = started;
  held.pidfd = pidfd;
  const hasPidns = (plan.cloneFlags & CLONE_NEWPID) !== 0;
  let exited = false;
  const exit = new Promise<ExitInfo>((resolve) =>
    addon.watchExit(pidfd, pid, (info) => {
      exited = true;
      resolve(info);
    }),
  );
  const handle: JailHandle = {
    pid,
    kill(signal) {
      // After the reaping the pid may belong to someone else: never signal by number then.
      if (exited) return;
      addon.kill(pidfd, signal);
      if (signal === SIGKILL) void held.cgroup?.killAll();
      // With a PID namespace, killing its init kills everything in it. Without one, the jail's
      // init leads its own session and process group (setsid), and the cgroup has the rest.
      if (!hasPidns && plan.setsid && signal === SIGKILL) addon.killGroup(pid, signal);
    },
  };
  if (network) {
    const ns = { netns: started.netnsFd ?? -1, userns: started.usernsFd ?? -1 };
    void network.start(pid, ns, netGate[1], (why) => {
      opts.log.error(`pid=${pid} ${why}: killing the jail (it must not run on without the network it was given)`);
      handle.kill(SIGKILL);
    });
  }
  return { handle, setup, exit, timedOut: false, notifications };
}

/** Hands one event to the caller; a failing callback is logged, never thrown into the supervisor. */
function emit(opts: SuperviseOptions, event: JailEvent): void {
  try {
    opts.onEvent?.(event);
  } catch (e) {
    opts.log.error(`onEvent failed: ${(e as Error).message}`);
  }
}

/** The deadline and the caller's abort, both armed from the launch on. */
function armLimits(jail: Launched, opts: SuperviseOptions, held: Held): void {
  const { pid } = jail.handle;
  if (opts.timeLimit > 0) {
    const timer = longTimeout(() => {
      jail.timedOut = true;
      opts.log.info(`pid=${pid} run time >= time limit (${opts.timeLimit} s): killing the jail`);
      jail.handle.kill(SIGKILL);
    }, opts.timeLimit * 1000);
    held.onRelease(() => timer.cancel());
  }
  const signal = opts.signal;
  if (signal) {
    const onAbort = () => {
      opts.log.info(`pid=${pid} stopped on request: killing the jail`);
      jail.handle.kill(SIGKILL);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    held.onRelease(() => signal.removeEventListener('abort', onAbort));
    if (signal.aborted) onAbort();
  }
}

function setupFailedReport(planned: PlannedJail, failure: SetupFailure, opts: SuperviseOptions, start: bigint, held: Held): ExitReport {
  const networkError = failure.stage === 'network' && failure.opIndex < 0 ? held.network?.error : null;
  const error = networkError
    ? { stage: 'network', errno: 'ECANCELED', message: networkError.hint ? `${networkError.message}\n  hint: ${networkError.hint}` : networkError.message }
    : describeSetupFailure(planned, failure);
  opts.log.error(error.message);
  return { outcome: 'setup-failed', exitCode: EXIT_SETUP_FAILED, signal: null, wallTimeMs: msSince(start), userTimeMs: 0, systemTimeMs: 0, maxRssKb: 0, error };
}

/** Step 4: how the jail ended, in the report's words. */
async function classify(info: ExitInfo, jail: Launched, stats: CgroupStats | undefined, held: Held, opts: SuperviseOptions, start: bigint): Promise<ExitReport> {
  const { pid } = jail.handle;
  if (info.kind === 'unknown') {
    throw new JailError('internal', `pid=${pid}: something else in this process reaped the jail before jail could, and the kernel cannot say how it ended`, {
      hint: "don't ignore SIGCHLD or call waitpid(-1) in a program that runs jails (Linux >= 6.15 reports the status anyway)",
    });
  }
  if (info.reapedElsewhere) opts.log.warn(`pid=${pid} was reaped by something else in this process (SIGCHLD ignored?): its CPU times are unknown`);
  const base = {
    wallTimeMs: msSince(start),
    userTimeMs: info.rusage.userTimeUs / 1000,
    systemTimeMs: info.rusage.systemTimeUs / 1000,
    maxRssKb: info.rusage.maxRssKb,
  };
  if (info.kind === 'exited') {
    opts.log.info(`pid=${pid} exited with status: ${info.code}`);
    return { outcome: 'exited', exitCode: info.code, signal: null, ...base };
  }
  if (jail.timedOut && info.signal === SIGKILL) return { outcome: 'timeout', exitCode: EXIT_TIMEOUT, signal: 'SIGKILL', ...base };
  // The cgroup session has already said so in words (which limit, how many processes).
  if (info.signal === SIGKILL && stats?.oomKilled) return { outcome: 'oom', exitCode: EXIT_OOM, signal: 'SIGKILL', ...base };
  if (info.signal === SIGSYS) {
    const seccomp = (await held.violations?.identify(pid)) ?? { syscall: null, nr: null, arch: null };
    const which = seccomp.syscall ?? (seccomp.nr !== null ? `syscall #${seccomp.nr}` : 'a forbidden syscall');
    opts.log.warn(`pid=${pid} committed a syscall/seccomp violation and was killed by SIGSYS: ${which}${seccomp.arch ? ` (${seccomp.arch})` : ''}`);
    return { outcome: 'seccomp-violation', exitCode: EXIT_SECCOMP, signal: 'SIGSYS', ...base, seccomp };
  }
  opts.log.info(`pid=${pid} terminated with signal: ${signalName(info.signal)} (${info.signal})`);
  return { outcome: 'signaled', exitCode: 128 + info.signal, signal: signalName(info.signal), ...base };
}

export async function supervise(addon: NativeAddon, planned: PlannedJail, opts: SuperviseOptions): Promise<SupervisedResult> {
  const start = process.hrtime.bigint();
  const held = new Held(addon, opts.stdio);
  try {
    acquire(addon, planned, opts, held);
    const jail = launch(addon, planned, opts, held);
    if (!('handle' in jail)) return { report: setupFailedReport(planned, jail, opts, start, held) };
    armLimits(jail, opts, held);

    const setup = await jail.setup;
    let startError: unknown;
    if (setup.ok) {
      opts.log.info(`pid=${jail.handle.pid} executing '${planned.plan.exec.path}' (argv: ${JSON.stringify(planned.plan.exec.argv)})`);
      try {
        opts.onStart?.(jail.handle);
      } catch (e) {
        // The caller's callback failed: the jail must not outlive the call that started it.
        startError = e;
        jail.handle.kill(SIGKILL);
      }
    }
    const info = await jail.exit;
    const stats = await held.finishCgroup();
    // A setup step failed on its own (not killed by the deadline or an abort while setting up).
    const failedSetup = !setup.ok && !jail.timedOut && !opts.signal?.aborted ? setup : null;
    // The program never ran, so there is no output to collect: release() destroys the streams.
    if (failedSetup) return { report: setupFailedReport(planned, failedSetup, opts, start, held) };
    const report = await classify(info, jail, stats, held, opts, start);
    if (stats) Object.assign(report, stats);
    if (jail.notifications) report.notifications = jail.notifications.result();
    if (report.notifications && held.unotifyReport) report.notifications.report = held.unotifyReport.finish(opts.log);
    if (held.network && planned.network?.link) report.network = held.network.counter.result();
    held.stdioFinished = true;
    if (startError !== undefined) {
      await opts.stdio.finish(0);
      throw startError;
    }
    const output = await opts.stdio.finish(opts.drainMs ?? 200);
    return { report, ...output };
  } finally {
    held.release();
  }
}
