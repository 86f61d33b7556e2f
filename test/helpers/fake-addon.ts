/**
 * A recording fake of the native addon (src/native/types.ts) for unit tests of the supervisor:
 * no clone, no kernel, no root. Every call is recorded in order; each launch follows a script
 * that says how it goes (started or failed at {stage, opIndex, errno}), how the jail ends (by
 * itself, or only when killed), what kill() does, and which seccomp audit records the kernel
 * "writes".
 *
 * File descriptors: the pidfd, execFd and audit fd are *fake* numbers (>= FAKE_FD_BASE) that the
 * fake tracks as open/closed, so tests can check each is closed exactly once and that nothing
 * closes an fd twice (a double close of a real fd number would hit whatever reused it).
 * pipe() returns *real* pipe fds, because the supervisor's stdio wraps them in net.Socket (epoll):
 * they come from a FIFO created with mkfifo(1) and opened at both ends, then unlinked, so no
 * native code is needed. A script's onLaunch may write into the jail's stdio fds to play the
 * jailed program's output. close() closes those real fds; it never closes an fd it did not hand
 * out (it records that as a bad close and returns EBADF).
 *
 * Exits are delivered like the real addon does (a later turn of the event loop), using the
 * setImmediate captured when this module loads, so tests that install fake timers still see
 * exits without advancing the clock.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExitInfo, LaunchResources, LaunchStart, NativeAddon, Rusage, SeccompNotification, SetupFailure, SetupResult } from '../../src/native/types';
import type { JailPlan } from '../../src/sandbox/plan';

const realSetImmediate = globalThis.setImmediate;

export const FAKE_FD_BASE = 100_000;
/** Above the kernel's largest pid_max (2^22), so a stray process.kill(-pid) can never hit anything. */
export const FAKE_PID_BASE = 5_000_000;

/** The addon's launch stages in its order (native/launch.cc StageName); a native test keeps this in step. */
export const FAKE_STAGE_NAMES = [
  'none', 'clone', 'idmap', 'cgroup', 'handshake', 'oom_score_adj', 'setsid', 'setid', 'keyring', 'hostname', 'loopback', 'network', 'mount', 'chdir',
  'rlimit', 'personality', 'disable_tsc', 'nice', 'affinity', 'core_scheduling', 'caps', 'no_new_privs', 'stdio', 'fds', 'signals',
  'seccomp', 'execve',
];

export const EBADF = 9;
export const ESRCH = 3;
export const SIGKILL = 9;

export interface ExitSpec {
  /** Exit status (when no signal). */
  code?: number;
  /** Death by this signal. */
  signal?: number;
  coreDumped?: boolean;
  rusage?: Partial<Rusage>;
}

export interface JailScript {
  /**
   * The launch fails at this step: at clone (launch() says so at once), or later (onSetup says
   * so, and the child, killed by the addon, exits 255 as the real one does after its report).
   */
  fail?: SetupFailure;
  /** The child's setup never ends by itself (a hung mount): only a kill ends it. */
  setupHangs?: boolean;
  /** launch() throws this synchronously (the real addon throws a TypeError for a malformed plan). */
  throws?: Error;
  /** How the jail ends by itself once it is watched; 'never' = only kill() or end() ends it. Default { code: 0 }. */
  exit?: ExitSpec | 'never';
  /** What a signal does to a running jail: an exit, or 'ignore'. Default: any signal but 0 kills it with that signal. */
  onKill?: (signal: number) => ExitSpec | 'ignore';
  /** Runs inside launch(), with the plan and resources (e.g. write output to resources.stdio[1]). */
  onLaunch?: (plan: JailPlan, resources: LaunchResources) => void;
  /**
   * When the plan has a listener filter: the notifications the jail's syscalls make, delivered to
   * the watchNotifications callback after onListener and before onSetup (the jail's execve may be
   * one of them).
   */
  notifications?: SeccompNotification[];
  /** Audit record texts the "kernel" writes when the jail dies of SIGSYS (or always, with `always`). */
  audit?: (pid: number) => string[];
}

export interface Call {
  fn: keyof NativeAddon;
  args: unknown[];
}

export class FakeJail {
  exited = false;
  info: ExitInfo | null = null;
  /** Signals received through kill(), in order. */
  readonly signals: number[] = [];
  private callback: ((info: ExitInfo) => void) | null = null;
  /** @internal Told when the jail ends (a hung setup ends with it). */
  onEnd: ((info: ExitInfo) => void) | null = null;
  private pending: ExitInfo | null = null;

  constructor(
    private readonly fake: FakeAddon,
    readonly pid: number,
    readonly pidfd: number,
    readonly plan: JailPlan,
    readonly resources: LaunchResources,
    readonly script: JailScript,
  ) {}

  /** Ends the jail now (as if the program exited or died), unless it already ended. */
  end(spec: ExitSpec): void {
    if (this.exited) return;
    this.exited = true;
    const info = exitInfo(spec);
    this.info = info;
    this.onEnd?.(info);
    if (info.kind === 'signaled' && info.signal === 31 && this.script.audit) this.fake.auditRecords.push(...this.script.audit(this.pid));
    this.pending = info;
    this.deliver();
  }

  /** @internal */
  watch(callback: (info: ExitInfo) => void): void {
    if (this.callback) throw new Error(`fake addon: watchExit called twice for pid ${this.pid}`);
    this.callback = callback;
    if (this.pending) this.deliver();
    else if (this.script.exit !== 'never') this.end(this.script.exit ?? { code: 0 });
  }

  private deliver(): void {
    const cb = this.callback;
    const info = this.pending;
    if (!cb || !info) return;
    this.callback = null;
    this.pending = null;
    realSetImmediate(() => {
      this.fake.reaped.push(this.pid);
      cb(info);
    });
  }
}

function exitInfo(spec: ExitSpec): ExitInfo {
  const rusage: Rusage = { userTimeUs: 1500, systemTimeUs: 2500, maxRssKb: 4096, ...spec.rusage };
  if (spec.signal !== undefined) {
    const core = spec.coreDumped ?? false;
    return { kind: 'signaled', reapedElsewhere: false, code: 0, signal: spec.signal, coreDumped: core, rusage, siginfoCode: core ? 3 : 2 };
  }
  return { kind: 'exited', reapedElsewhere: false, code: spec.code ?? 0, signal: 0, coreDumped: false, rusage, siginfoCode: 1 };
}

/** A real pipe without native code: a FIFO opened at both ends, then removed with its directory. [read, write]. */
export function realPipe(): [number, number] {
  const dir = mkdtempSync(join(tmpdir(), 'jail-fake-pipe-'));
  const p = join(dir, 'p');
  execFileSync('mkfifo', ['-m', '0600', p]);
  try {
    const r = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const w = fs.openSync(p, fs.constants.O_WRONLY);
    return [r, w];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export class FakeAddon implements NativeAddon {
  readonly abiVersion = 10;
  readonly planVersion = 5;

  /** Every call, in order. */
  readonly calls: Call[] = [];
  readonly jails: FakeJail[] = [];
  /** pids whose exit was delivered to a watchExit callback. */
  readonly reaped: number[] = [];
  /** close() calls on fds that were not open (double closes, or fds this fake never handed out). */
  readonly badCloses: number[] = [];
  /** Audit records waiting to be read. */
  readonly auditRecords: string[] = [];
  /** What auditOpen() finds. */
  auditKind: 'netlink' | 'kmsg' | 'none' = 'netlink';
  /** Paths openPath() fails on (ENOENT). */
  readonly missingPaths = new Set<string>();
  /** Script for launches without a queued one. */
  defaultScript: JailScript = {};

  private readonly scripts: JailScript[] = [];
  private nextFd = FAKE_FD_BASE;
  private nextPid = FAKE_PID_BASE;
  private readonly fakeFds = new Map<number, string>();
  private readonly realFds = new Set<number>();
  private readonly listeners = new Map<number, (n: SeccompNotification) => void>();

  /** Queues the script for the next launch. */
  script(s: JailScript): this {
    this.scripts.push(s);
    return this;
  }

  /** Calls of one function. */
  callsOf(fn: keyof NativeAddon): unknown[][] {
    return this.calls.filter((c) => c.fn === fn).map((c) => c.args);
  }

  /** Fake fds still open, with what they are ("pidfd 5000000", "execFd /bin/x", "audit"). */
  openFakeFds(): string[] {
    return [...this.fakeFds.values()];
  }

  /** Real pipe fds handed out by pipe() and not closed through close() (sockets may own them). */
  openRealFds(): number[] {
    return [...this.realFds];
  }

  get lastJail(): FakeJail {
    const j = this.jails.at(-1);
    if (!j) throw new Error('fake addon: nothing was launched');
    return j;
  }

  private fakeFd(what: string): number {
    const fd = this.nextFd++;
    this.fakeFds.set(fd, what);
    return fd;
  }

  private record(fn: keyof NativeAddon, args: unknown[]): void {
    this.calls.push({ fn, args });
  }

  launch(plan: JailPlan, resources: LaunchResources, onSetup: (result: SetupResult) => void, onListener: ((fd: number) => boolean) | undefined): LaunchStart {
    // A copy: what was asked at launch time, even if the caller mutates its objects afterwards.
    this.record('launch', [structuredClone(plan), structuredClone(resources)]);
    const script = this.scripts.shift() ?? this.defaultScript;
    if (script.throws) throw script.throws;
    const hasListener = (plan.seccomp?.listener.length ?? 0) > 0;
    if (hasListener && !onListener) throw new TypeError('launch: the plan has a seccomp listener filter but no onListener was given');
    script.onLaunch?.(plan, resources);
    if (script.fail?.stage === 'clone') return { ok: false, ...script.fail };
    const pid = this.nextPid++;
    const pidfd = this.fakeFd(`pidfd ${pid}`);
    const failed = script.fail;
    const ends: JailScript = failed ? { ...script, exit: { code: 255 } } : script.setupHangs ? { ...script, exit: 'never' } : script;
    const jail = new FakeJail(this, pid, pidfd, plan, resources, ends);
    this.jails.push(jail);
    if (script.setupHangs) {
      // Setup ends only when the child dies, as the real addon's report pipe reaches EOF.
      jail.onEnd = (info) => realSetImmediate(() => onSetup(info.kind === 'signaled' ? { ok: false, stage: 'handshake', opIndex: -1, errno: 10 } : { ok: true }));
    } else {
      realSetImmediate(() => {
        if (hasListener && !failed) this.handOverListener(onListener!, script.notifications ?? []);
        onSetup(failed ? { ok: false, ...failed } : { ok: true });
      });
    }
    return { ok: true, pid, pidfd };
  }

  /** The listener handshake: a listener fd to the caller, then the jail's notified syscalls. */
  private handOverListener(onListener: (fd: number) => boolean, notifications: SeccompNotification[]): void {
    const fd = this.fakeFd('listener');
    onListener(fd);
    const answer = this.listeners.get(fd);
    if (!answer && notifications.length > 0) throw new Error('fake addon: the jail made notified syscalls but nobody watches the listener');
    for (const n of notifications) answer!(n);
  }

  /** Records the call; the callback gets the script's notifications. */
  watchNotifications(fd: number, onNotification: (n: SeccompNotification) => void, readPaths: boolean): void {
    this.record('watchNotifications', [fd, readPaths]);
    if (this.fakeFds.get(fd) !== 'listener') throw new Error(`fake addon: watchNotifications on fd ${fd}, which is not an open listener`);
    this.listeners.set(fd, onNotification);
  }

  unwatchNotifications(fd: number): void {
    this.record('unwatchNotifications', [fd]);
    if (!this.listeners.delete(fd) || !this.fakeFds.delete(fd)) throw new Error(`fake addon: unwatchNotifications on fd ${fd}, which is not watched`);
  }

  boxListen(): number {
    throw new Error('fake addon: boxes are tested against the real addon (test/integration/box/)');
  }

  boxConnect(): number {
    throw new Error('fake addon: boxes are tested against the real addon (test/integration/box/)');
  }

  openInRoot(): number {
    throw new Error('fake addon: boxes are tested against the real addon (test/integration/box/)');
  }

  openPty(): [number, number] {
    throw new Error('fake addon: boxes are tested against the real addon (test/integration/box/)');
  }

  setWindowSize(): number {
    throw new Error('fake addon: boxes are tested against the real addon (test/integration/box/)');
  }

  readXattr(): string | null {
    throw new Error('fake addon: boxes are tested against the real addon (test/integration/box/)');
  }

  warmReceive(): void {
    throw new Error('fake addon: warmReceive is tested against the real addon (test/integration/core/warm.test.ts)');
  }

  /** Records the call; refuses nothing (the real addon's checks are tested against the real addon). */
  validatePlan(plan: JailPlan, resources: LaunchResources): void {
    this.record('validatePlan', [structuredClone(plan), structuredClone(resources)]);
  }

  watchExit(pidfd: number, pid: number, callback: (info: ExitInfo) => void): void {
    this.record('watchExit', [pidfd, pid]);
    const jail = this.jails.find((j) => j.pidfd === pidfd && j.pid === pid);
    if (!jail) throw new Error(`fake addon: watchExit(${pidfd}, ${pid}) names no launched jail`);
    if (!this.fakeFds.has(pidfd)) throw new Error(`fake addon: watchExit on closed pidfd ${pidfd}`);
    jail.watch(callback);
  }

  kill(pidfd: number, signal: number): number {
    this.record('kill', [pidfd, signal]);
    // The launch's pidfd or one from pidfdOpen: both name the jail by its pid.
    const what = this.fakeFds.get(pidfd);
    const jail = this.jails.find((j) => what === `pidfd ${j.pid}`);
    if (!jail) return EBADF;
    jail.signals.push(signal);
    if (jail.exited) return ESRCH;
    if (signal === 0) return 0;
    const effect = jail.script.onKill ? jail.script.onKill(signal) : { signal };
    if (effect !== 'ignore') jail.end(effect);
    return 0;
  }

  /** Records the call; the group's members are the jail itself as far as the fake knows. */
  killGroup(pgid: number, signal: number): number {
    this.record('killGroup', [pgid, signal]);
    return this.jails.some((j) => j.pid === pgid && !j.exited) ? 0 : ESRCH;
  }

  pipe(): [number, number] {
    this.record('pipe', []);
    const fds = realPipe();
    for (const fd of fds) this.realFds.add(fd);
    return fds;
  }

  close(fd: number): number {
    this.record('close', [fd]);
    if (this.fakeFds.delete(fd)) return 0;
    if (this.realFds.delete(fd)) {
      fs.closeSync(fd);
      return 0;
    }
    this.badCloses.push(fd);
    return EBADF;
  }

  openPath(path: string, directory: boolean): number {
    this.record('openPath', [path, directory]);
    if (this.missingPaths.has(path)) {
      const e = new Error(`open ${path}: No such file or directory`) as Error & { errno: number };
      e.errno = 2;
      throw e;
    }
    return this.fakeFd(`${directory ? 'dir' : 'execFd'} ${path}`);
  }

  cgroupMkdir(path: string): number {
    this.record('cgroupMkdir', [path]);
    return 0;
  }

  cgroupRmdir(path: string): number {
    this.record('cgroupRmdir', [path]);
    return 0;
  }

  cgroupWrite(path: string, content: string): number {
    this.record('cgroupWrite', [path, content]);
    return 0;
  }

  cgroupRead(path: string): [string | null, number] {
    this.record('cgroupRead', [path]);
    return [null, 2];
  }

  /** A pidfd for a launched jail that has not ended, else -ESRCH (the fake knows no other process). */
  pidfdOpen(pid: number): number {
    this.record('pidfdOpen', [pid]);
    return this.jails.some((j) => j.pid === pid && !j.exited) ? this.fakeFd(`pidfd ${pid}`) : -ESRCH;
  }

  /** -Me replaces the process; here it is recorded and refused. */
  launcherPlan(): Buffer {
    throw new Error('fake addon: the launcher is tested against the real addon (test/integration/box/)');
  }

  execveMode(plan: JailPlan, resources: LaunchResources, launcherPath: string, failureTexts: string[], timeLimit: number): never {
    this.record('execveMode', [structuredClone(plan), structuredClone(resources), launcherPath, failureTexts, timeLimit]);
    throw new Error('fake addon: execveMode would replace this process');
  }

  stageNames(): string[] {
    this.record('stageNames', []);
    return [...FAKE_STAGE_NAMES];
  }

  fsType(path: string): number {
    this.record('fsType', [path]);
    return 0x63677270; // CGROUP2_SUPER_MAGIC
  }

  /** Jails with user_net rewrite rules need the lab (test/integration/net/nstun-rewrite.test.ts): refused here. */
  openNetnsSockets(usernsFd: number, netnsFd: number, specs: { family: 4 | 6; type: 'tcp' | 'udp' | 'netlink' }[]): number[] {
    this.record('openNetnsSockets', [usernsFd, netnsFd, structuredClone(specs)]);
    throw Object.assign(new Error('fake addon: openNetnsSockets needs a real network namespace'), { errno: 38, step: -2 });
  }

  originalDestination(fd: number, family: 4 | 6): { address: string; port: number } | null {
    this.record('originalDestination', [fd, family]);
    return null;
  }

  conntrackOriginalDestination(nlFd: number, family: 4 | 6, proto: number, replySrc: string, replySrcPort: number, replyDst: string, replyDstPort: number): { address: string; port: number } | null {
    this.record('conntrackOriginalDestination', [nlFd, family, proto, replySrc, replySrcPort, replyDst, replyDstPort]);
    return null;
  }

  spawnInNetns(usernsFd: number, netnsFd: number, path: string, argv: string[], envp: string[], stdinFd: number, stderrFd: number): { pid: number; pidfd: number } {
    this.record('spawnInNetns', [usernsFd, netnsFd, path, argv, envp, stdinFd, stderrFd]);
    throw Object.assign(new Error('fake addon: spawnInNetns needs a real network namespace'), { errno: 38 });
  }

  auditOpen(): { fd: number; kind: 'netlink' | 'kmsg' | 'none'; errno: number } {
    this.record('auditOpen', []);
    if (this.auditKind === 'none') return { fd: -1, kind: 'none', errno: 1 };
    return { fd: this.fakeFd(`audit ${this.auditKind}`), kind: this.auditKind, errno: 0 };
  }

  auditRead(fd: number, kind: 'netlink' | 'kmsg'): string[] {
    this.record('auditRead', [fd, kind]);
    if (!this.fakeFds.has(fd)) throw new Error(`fake addon: auditRead on fd ${fd}, which is not an open audit fd`);
    return this.auditRecords.splice(0);
  }
}
