/**
 * What the C++ addon exports (native/*.cc). `src/native/addon.ts` is the only file that loads
 * it; a recording fake (test/helpers/fake-addon.ts) implements the same interface for unit tests.
 */


/** Runtime resources for one launch: file descriptors are not plan data. */
export interface LaunchResources {
  /** Host fds that become the jail's 0, 1, 2 (-1 = /dev/null). */
  stdio: [number, number, number];
  /** Extra host fds kept open at the same number inside the jail (--pass_fd). */
  passFds: number[];
  /** O_PATH fd of the binary for execveat (--execute_fd), or -1. */
  execFd: number;
  /** Directory fd of the jail's cgroup v2 leaf for CLONE_INTO_CGROUP, or -1. */
  cgroupFd: number;
}

/** How the setup of a jail failed, as the child (or the parent side of launch) reported it. */
export interface SetupFailure {
  /** Which step failed: 'clone', 'idmap', 'setid', 'mount', 'pivot_root', 'seccomp', 'execve', ... */
  stage: string;
  /** Index into the plan's list for that stage (mount op, rlimit, ...), or -1. */
  opIndex: number;
  errno: number;
}

export type LaunchResult =
  | { ok: true; pid: number; pidfd: number }
  | ({ ok: false } & SetupFailure);

/** Resource usage of the reaped jail init, from wait4(). */
export interface Rusage {
  userTimeUs: number;
  systemTimeUs: number;
  maxRssKb: number;
}

/** How the jail's init ended. */
export interface ExitInfo {
  /** 'exited' with `code`, or 'signaled' with `signal` (a number). */
  kind: 'exited' | 'signaled';
  code: number;
  signal: number;
  coreDumped: boolean;
  rusage: Rusage;
  /** For a SIGSYS death: the syscall the kernel reports the process was in, when it can be read. */
  syscall?: { nr: number; arch: number; args: string[] };
}

export interface NativeAddon {
  readonly abiVersion: number;
}
