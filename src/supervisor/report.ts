/**
 * The exit report: how a jail ended, in one JSON-printable object. `run()` resolves to it and
 * the CLI prints it with `--report json`, `--report-fd N` or `--report-file PATH`.
 */
import * as os from 'node:os';
import type { NotificationSummary } from './events';

export type Outcome = 'exited' | 'signaled' | 'timeout' | 'setup-failed' | 'seccomp-violation' | 'oom';

export interface SetupError {
  /** The step that failed: 'mount', 'execve', 'idmap', ... */
  stage: string;
  /** errno name, e.g. 'ENOENT'. */
  errno: string;
  /** The full sentence, e.g. "mount #2 /usr -> /usr (bind, ro): ENOENT ...". */
  message: string;
}

export interface SeccompViolation {
  /** The syscall's name on `arch`, or null when the kernel did not tell us. */
  syscall: string | null;
  nr: number | null;
  arch: string | null;
}

export interface ExitReport {
  outcome: Outcome;
  /** What `jail` exits with: the program's code, 128+signal, 137 timeout, 159 seccomp, 255 setup. */
  exitCode: number;
  /** Signal name that ended the program (e.g. 'SIGKILL'), or null. */
  signal: string | null;
  wallTimeMs: number;
  userTimeMs: number;
  systemTimeMs: number;
  maxRssKb: number;
  /** Present when outcome is 'setup-failed'. */
  error?: SetupError;
  /** Present when outcome is 'seccomp-violation'. */
  seccomp?: SeccompViolation;
  /** From the jail's cgroup, when it has one: peak memory use in bytes. */
  memoryPeakBytes?: number;
  /** From the jail's cgroup: CPU time of every process in the jail, in ms. */
  cpuTimeMs?: number;
  /** True when the cgroup memory limit killed a process of the jail. */
  oomKilled?: boolean;
  /** True when a fork in the jail failed because of the cgroup pids limit. */
  pidsLimitHit?: boolean;
  /** LISTEN mode: the client whose connection this jail served, as `[address]:port`. */
  peer?: string;
  /** When the policy notifies (USER_NOTIF, seccomp_unotify): the syscalls the supervisor was told of. */
  notifications?: NotificationSummary;
  /** Connections the allow-list proxy let through or refused (when the jail had one). */
  network?: { allowed: number; denied: number };
}

/** What the cgroup stage reads back after a jail (the report fields above). */
export interface CgroupStats {
  memoryPeakBytes?: number;
  cpuTimeMs?: number;
  oomKilled: boolean;
  pidsLimitHit: boolean;
}

export function signalName(n: number): string {
  for (const [name, value] of Object.entries(os.constants.signals)) if (value === n) return name;
  return `SIG${n}`;
}

export function signalNumber(name: string): number | undefined {
  return (os.constants.signals as Record<string, number>)[name];
}
