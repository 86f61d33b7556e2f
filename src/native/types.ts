import type { JailPlan } from '../sandbox/plan';

/**
 * What the C++ addon exports (native/addon.cc). `src/native/addon.ts` is the only file that
 * loads it; a recording fake (test/helpers/fake-addon.ts) implements the same interface for
 * unit tests of the supervisor.
 */

/** Runtime resources for one launch: file descriptors are not plan data. */
export interface LaunchResources {
  /** Host fds that become the jail's 0, 1, 2 (-1 = /dev/null). Owned by the caller. */
  stdio: [number, number, number];
  /** Extra host fds kept open at the same number inside the jail (--pass_fd). */
  passFds: number[];
  /** O_PATH fd of the binary for execveat (--execute_fd), or -1. */
  execFd: number;
  /** Directory fd of the jail's cgroup v2 leaf for CLONE_INTO_CGROUP, or -1. */
  cgroupFd: number;
  /** [read, write] of the pipe the jail's init waits on for its network link (plan.network.gate), or [-1, -1]. */
  netGate: [number, number];
}

/** How building a jail failed, as the child (or the parent side of launch) reported it. */
export interface SetupFailure {
  /** The step: 'clone', 'idmap', 'cgroup', 'setid', 'mount', 'rlimit', 'caps', 'seccomp', 'execve', ... */
  stage: string;
  /** Index into the plan's list for that stage (mount op, rlimit, cap number, ...), or -1. */
  opIndex: number;
  errno: number;
}

/**
 * What launch() returns at once: the cloned child, or why clone failed. With plan.network.gate,
 * also the child's network and user namespaces (-1 without a user namespace), opened before the
 * go byte; the caller owns and closes them.
 */
export type LaunchStart = { ok: true; pid: number; pidfd: number; netnsFd?: number; usernsFd?: number } | ({ ok: false } & SetupFailure);

/** How the child's setup ended: it exec'd the program, or a step failed (the child was then sent SIGKILL). */
export type SetupResult = { ok: true } | ({ ok: false } & SetupFailure);

/** Resource usage of the reaped jail init, from wait4(). */
export interface Rusage {
  userTimeUs: number;
  systemTimeUs: number;
  maxRssKb: number;
}

/** How the jail's init ended. */
export interface ExitInfo {
  /** 'unknown': something else in this process reaped it, and the kernel is too old to say how it ended. */
  kind: 'exited' | 'signaled' | 'unknown';
  /** Something else in this process reaped it first (SIGCHLD ignored, or a waitpid(-1)); rusage is then zero. */
  reapedElsewhere: boolean;
  /** Exit status when kind is 'exited'. */
  code: number;
  /** Signal number when kind is 'signaled'. */
  signal: number;
  coreDumped: boolean;
  rusage: Rusage;
  /** siginfo si_code of the exit (CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3). */
  siginfoCode: number;
}

/** One seccomp user notification: the registers the kernel copied. */
export interface SeccompNotification {
  /** Host pid of the thread making the syscall. */
  pid: number;
  nr: number;
  /** AUDIT_ARCH_* of the syscall. */
  arch: number;
  args: bigint[];
  /**
   * connect and sendto of the host's architecture, when readable: the destination (struct
   * sockaddr bytes, read from the target while it waited) and the socket's SO_TYPE (-1 unknown).
   * A report only: another thread of the target may have changed the bytes.
   */
  sockaddr?: Buffer;
  socketType?: number;
  /**
   * With readPaths: the paths a file syscall of nsjail's seccomp_unotify list names (two for
   * rename, link, ...), as the target wrote them, and for the *at syscalls the directory fd each
   * is relative to (AT_FDCWD -100 for the working directory); absent when one could not be read.
   * Read while the target waited, checked as sockaddr is.
   */
  paths?: { path: Buffer; dirfd?: number }[];
  /** With readPaths: bind's address (struct sockaddr bytes), read as sockaddr is. */
  bindAddr?: Buffer;
  /** openat2: the flags of its struct open_how (the registers hold only its address). */
  openHowFlags?: bigint;
}

export interface NativeAddon {
  readonly abiVersion: number;
  readonly planVersion: number;
  /**
   * Clones one jail and returns at once; nothing blocks a thread. When ok, onSetup is called once,
   * later, when the program has exec'd or a setup step failed. The caller owns the pidfd and must
   * watch the exit (watchExit) in every case: a failed child is killed, not reaped. When the plan
   * has a seccomp listener filter, onListener(fd) is called once, before onSetup, with the
   * caller's copy of the listener: it must call watchNotifications(fd) before it returns (the
   * child's next notified syscall may be its execve), then return true; false stops the launch.
   */
  launch(plan: JailPlan, resources: LaunchResources, onSetup: (result: SetupResult) => void, onListener: ((fd: number) => boolean) | undefined): LaunchStart;
  /**
   * Every check launch() makes before clone (the plan's shape and bounds, the resources' fds are
   * open), and nothing more; throws launch's TypeError naming the field. Nothing is cloned.
   */
  validatePlan(plan: JailPlan, resources: LaunchResources): void;
  /** Calls back once the process has exited and been reaped; keep pidfd open until then. */
  watchExit(pidfd: number, pid: number, callback: (info: ExitInfo) => void): void;
  /** pidfd_send_signal; returns 0 or an errno (ESRCH when it already exited). */
  kill(pidfd: number, signal: number): number;
  /** kill(-pgid): the jail init's process group (it calls setsid); 0 or an errno. */
  killGroup(pgid: number, signal: number): number;
  /**
   * Sockets inside a jail's network namespace, for the supervisor (nsjail's user_net rewrite
   * rules, src/net/rewrite.ts): a short-lived clone of this process enters the namespaces
   * (usernsFd first, -1 when root), brings `lo` up, and makes each socket: tcp = listening on the
   * loopback address of `family`, port chosen by the kernel; udp = bound the same way; netlink = a
   * NETLINK_NETFILTER socket. Returns the fds (close-on-exec, non-blocking; the caller owns them).
   * Throws with .errno and .step (-3 user namespace, -2 network namespace, -1 lo, i socket i).
   */
  openNetnsSockets(usernsFd: number, netnsFd: number, specs: { family: 4 | 6; type: 'tcp' | 'udp' | 'netlink' }[]): number[];
  /**
   * Runs `path` inside a jail's namespaces (usernsFd -1 when root; otherwise it keeps
   * CAP_NET_ADMIN there across execve as an ambient capability), stdin and stdout/stderr on the
   * given fds. Returns at once; the caller owns the pidfd and waits with watchExit. Exit status
   * 121-125: entering the user namespace, the network namespace, stdio, capabilities, execve failed.
   */
  spawnInNetns(usernsFd: number, netnsFd: number, path: string, argv: string[], envp: string[], stdinFd: number, stderrFd: number): { pid: number; pidfd: number };
  /** SO_ORIGINAL_DST of an accepted TCP socket: where it was going before the nat redirect, or null (not redirected). */
  originalDestination(fd: number, family: 4 | 6): { address: string; port: number } | null;
  /**
   * The original destination of the conntrack entry whose reply tuple is (replySrc:replySrcPort ->
   * replyDst:replyDstPort, proto), or null when there is none. nlFd: openNetnsSockets' netlink socket.
   */
  conntrackOriginalDestination(nlFd: number, family: 4 | 6, proto: number, replySrc: string, replySrcPort: number, replyDst: string, replyDstPort: number): { address: string; port: number } | null;
  /** A CLOEXEC pipe: [read, write]. */
  pipe(): [number, number];
  /** close(2); returns 0 or an errno. */
  close(fd: number): number;
  /** An O_PATH fd (file) or O_RDONLY|O_DIRECTORY fd (directory), CLOEXEC. Throws with .errno. */
  openPath(path: string, directory: boolean): number;
  /** A listening AF_UNIX stream socket at path (mode 0600), CLOEXEC: a box's control socket. Throws with .errno. */
  boxListen(path: string): number;
  /** Connects to a box's control socket and sends request, its first byte carrying fds (stdin, stdout, stderr); the connected fd (CLOEXEC). Throws with .errno. */
  boxConnect(path: string, request: Buffer, fds: [number, number, number]): number;
  /** open(2) of path resolved inside root (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), CLOEXEC, as fsuid:fsgid (-1: unchanged; this thread only). Throws with .errno. */
  openInRoot(root: string, path: string, flags: number, mode: number, fsuid: number, fsgid: number): number;
  /**
   * A new pseudo-terminal: [master (non-blocking), slave], both CLOEXEC; the host's, or that of
   * the devpts instance whose ptmx is open as `ptmx` (which becomes the master). Throws with .errno.
   */
  openPty(ptmx?: number): [number, number];
  /** lgetxattr(2) of path: the value (at most 256 bytes), or null when it has none (ENODATA, ENOTSUP). Throws with .errno. */
  readXattr(path: string, name: string): string | null;
  /** TIOCSWINSZ; 0 or an errno. */
  setWindowSize(fd: number, columns: number, rows: number): number;
  /** mkdir 0755; 0 or an errno (EEXIST included). */
  cgroupMkdir(path: string): number;
  /** rmdir; 0 or an errno (EBUSY while processes remain). */
  cgroupRmdir(path: string): number;
  /** One write(2) of content; 0 or an errno. */
  cgroupWrite(path: string, content: string): number;
  /** [text, 0] or [null, errno]. */
  cgroupRead(path: string): [string | null, number];
  /**
   * pidfd_open(2) of one process listed in a cgroup.procs: the fd (close-on-exec; the caller
   * closes it), or -errno (-ESRCH: no such process). Signal through it with kill(): it names that
   * process only, whatever later gets its pid. Throws on a pid that is not an integer 1..2^30-1.
   */
  pidfdOpen(pid: number): number;
  /** statfs f_type of path, or -errno. */
  fsType(path: string): number;
  /**
   * -Me: serializes the prepared jail into a memfd and execs the jail_exec launcher in place of
   * this process. Never returns on success; throws (with .errno) otherwise. failureTexts: one
   * sentence per stageNames() entry, then one per mount op.
   */
  execveMode(plan: JailPlan, resources: LaunchResources, launcherPath: string, failureTexts: string[], timeLimit: number): never;
  /**
   * The same plan as bytes, for a jail_exec started as a process of its own that reads it from a
   * pipe (`--plan-fd`) and holds every fd of `resources` at the same number. Throws like execveMode.
   */
  launcherPlan(plan: JailPlan, resources: LaunchResources, failureTexts: string[], timeLimit: number): Buffer;
  /** The launch stages in the addon's order (indexes of execveMode's failureTexts). */
  stageNames(): string[];
  /** A non-blocking reader of the kernel's seccomp audit records; fd -1 when none is readable here. */
  auditOpen(): { fd: number; kind: 'netlink' | 'kmsg' | 'none'; errno: number };
  /** The AUDIT_SECCOMP record texts available now. */
  auditRead(fd: number, kind: 'netlink' | 'kmsg'): string[];
  /**
   * Takes over a seccomp listener fd: for each notification, calls onNotification and then lets
   * the syscall continue (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Throws if it cannot watch the fd
   * (which then stays the caller's). readPaths: also read `paths` and `bindAddr` (costs a
   * process_vm_readv per notified file syscall, so only for seccomp_unotify's report).
   */
  watchNotifications(fd: number, onNotification: (n: SeccompNotification) => void, readPaths: boolean): void;
  /** Stops answering and closes the listener: notified syscalls made after this fail with ENOSYS. */
  unwatchNotifications(fd: number): void;
  /**
   * The warm server's handshake (native/warm.cc): reads one jail_client request from the
   * accepted unix connection `fd` (left open) on a thread-pool thread. body and fds (the
   * client's 0, 1, 2, close-on-exec, the caller's to close) are set only for a complete request
   * from a peer of this process's uid; error says what was wrong with a request. Neither is set
   * for a peer of another uid (nothing is read from it) or one that closed without a byte.
   */
  warmReceive(fd: number, cb: (err: null, r: WarmRequest) => void): void;
}

export interface WarmRequest {
  uid: number;
  gid: number;
  pid: number;
  body?: Buffer;
  fds?: number[];
  error?: string;
}
