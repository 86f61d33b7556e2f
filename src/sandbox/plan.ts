/**
 * JailPlan: everything `jail` will do to the kernel for one jail, in the kernel's vocabulary,
 * ordered, numeric and fully resolved. It is plain JSON-printable data (`jail plan` prints it);
 * the addon applies it step by step and refuses anything it does not expect (docs/architecture.md §1-2).
 *
 * Paths in mount ops are absolute host paths as the child sees them before pivot_root (under
 * `rootDir`) or, for ops after the `pivot` op, paths inside the new root.
 */
import type { CgroupPlan } from '../cgroup/plan';

/** Bumped whenever the shape below changes; the addon refuses a plan of another version. */
export const PLAN_VERSION = 5;

/**
 * The largest lists and numbers the addon accepts in a plan and its launch resources
 * (native/prepare.cc refuses anything beyond). The planner checks each first, so the user reads
 * which field or flag went too far instead of the addon's refusal.
 */
export const PLAN_LIMITS = {
  /** Mount ops; also the kernel's default fs.mount-max (mounts per namespace). */
  mountOps: 100_000,
  /** argv and envp entries each (the kernel's own limit is on their total size). */
  execStrings: 65_536,
  /** Distinct --pass_fd fds above 2. */
  passFds: 1024,
  /** CPU numbers for sched_setaffinity: 0 .. cpus-1 (a cpu_set_t). */
  cpus: 1024,
} as const;

/*
 * One mount, from the user's words to the kernel's (each name is used for that one thing only):
 *
 *   config   `mount { src dst is_bind rw ... }`, `--bindmount`, `--tmpfsmount`, ...: a MountPt
 *            (config/types.ts). effectiveMounts() lists them in mount order, with the bind of
 *            `--chroot` first and /proc last.
 *   plan     A "mount entry": one MountPt of that list, described for the user as a MountEntry
 *            (below; `PlannedJail.mounts`). sandbox/mounts.ts turns each into ops, one function
 *            per kind: bind, symlink, file content, fresh filesystem.
 *            A "mount op": one step of the child, a MountOp (below; `JailPlan.mounts`, in the
 *            order the child runs them). Its `ref` is the index of the entry it carries out, or
 *            null for an op jail adds itself.
 *            A "bind" (mounts.ts Bind): what a bind entry makes visible, reduced to its host path
 *            and jail path, for finding the command on the jail's PATH.
 *   native   A MountOpSpec (native/spec.h): a mount op as native/prepare.cc validated it, with
 *            C strings and no `ref`; native/mount.cc applies them in order. A failure comes back
 *            as the op's index in `JailPlan.mounts`; supervisor/setup-error.ts follows its `ref`
 *            to the entry's description.
 */

/** One mount entry, as error messages and `jail plan` describe it. */
export interface MountEntry {
  /** "mount #2 /usr -> /usr (bind, ro)" */
  describe: string;
  /** Key into the config's SpanMap. */
  spanKey: string;
}

export type MountOp = (
  /** mount(2). `source`/`fstype`/`data` null = NULL. */
  | { op: 'mount'; source: string | null; target: string; fstype: string | null; flags: number; data: string | null }
  /** mkdir -p with this mode for every missing component. */
  | { op: 'mkdirs'; path: string; mode: number }
  /** Create an empty regular file (mount point for a file bind), parents must exist. */
  | { op: 'mkfile'; path: string; mode: number }
  /** symlink(target, path). */
  | { op: 'symlink'; target: string; path: string }
  /** Create `path` with exactly `content` (bytes, base64) and `mode`. */
  | { op: 'write'; path: string; contentBase64: string; mode: number }
  /** Remount `target` (MS_REMOUNT|MS_BIND|flags), keeping the flags the kernel has locked on it. */
  | { op: 'remount'; target: string; flags: number }
  /** mount_setattr(target, attrSet, attrClr), recursively when `recursive`. */
  | { op: 'setattr'; target: string; attrSet: number; attrClr: number; recursive: boolean }
  /** umount2(target, flags). */
  | { op: 'umount'; target: string; flags: number }
  /** unlink(path) (a content file after it was bound). */
  | { op: 'unlink'; path: string }
  /** chdir(newRoot); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/"). */
  | { op: 'pivot'; newRoot: string }
  /** chdir(newRoot); mount(".", "/", MS_MOVE); chroot(".") (--no_pivotroot). */
  | { op: 'moveRoot'; newRoot: string }
  /** chroot(path) (no mount namespace). */
  | { op: 'chroot'; path: string }
) & {
  /**
   * The mount entry (index into `PlannedJail.mounts`) this op carries out, or null for an op
   * jail adds itself (the private root, the new root's tmpfs, pivot_root, ...).
   */
  ref: number | null;
  /** A failure of this op is ignored (the entry is not mandatory). */
  optional: boolean;
};

export interface RLimitOp {
  /** RLIMIT_* number. */
  resource: number;
  /** Decimal string (values reach 2^64-1); "infinity" = RLIM_INFINITY. */
  cur: string;
  max: string;
}

export interface SeccompPlan {
  /** The policy, installed last: [code, jt, jf, k] per instruction; [] = none. */
  insns: Array<[number, number, number, number]>;
  /** SECCOMP_FILTER_FLAG_* bits for `insns` (LOG). */
  flags: number;
  /**
   * The user-notification filter, installed before `insns` with a listener the supervisor takes
   * over (src/policy/unotify.ts, native/unotify.cc); [] = none.
   */
  listener: Array<[number, number, number, number]>;
}

import type { NetRulePlan } from '../net/plan';

export interface JailPlan {
  version: typeof PLAN_VERSION;
  /** CLONE_NEW* bits for clone3. */
  cloneFlags: number;
  /** Parent-side user namespace setup, written after clone and before the go byte. */
  idmap: {
    /** Exact text for /proc/PID/uid_map and gid_map ("" = don't write). */
    uidMap: string;
    gidMap: string;
    /** Text for /proc/PID/setgroups before gid_map ("" = don't write). */
    setgroups: '' | 'allow' | 'deny';
    /** argv for /usr/bin/newuidmap and newgidmap (the pid is appended at run time), or null. */
    newuidmap: string[] | null;
    newgidmap: string[] | null;
  };
  /** Ids the program runs as inside (setresgid/setgroups/setresuid after the go byte). */
  uid: number;
  gid: number;
  /** Supplementary groups (setgroups); empty clears them. Skipped when setgroups is denied. */
  groups: number[];
  hostname: string | null;
  /** Bring the loopback interface up in the new network namespace (nsjail's default). */
  loopbackUp: boolean;
  /** CPUs the jail may run on (sched_setaffinity), or null to inherit. */
  cpus: number[] | null;
  /** PR_SCHED_CORE_CREATE: no SMT sibling runs code of another core-scheduling group. */
  coreScheduling: boolean;
  /** Host path where the new root is assembled, `<scratch>/root` (sandbox/host.ts scratchLayout); '' without a mount namespace. */
  rootDir: string;
  mounts: MountOp[];
  /** Working directory inside the jail, after pivot_root. */
  cwd: string;
  rlimits: RLimitOp[];
  /** Capabilities (numbers). `keepAll` keeps every permitted cap (raised ambient). */
  caps: { keepAll: boolean; keep: number[]; drop: number[] };
  noNewPrivs: boolean;
  /** personality(2) bits to add. */
  personality: number;
  disableTsc: boolean;
  niceLevel: number | null;
  oomScoreAdj: number | null;
  setsid: boolean;
  /** Child fds 0,1,2 that go to /dev/null regardless of the launch resources. */
  devNullFds: number[];
  /** Signal the kernel sends the jail init when the launching thread dies. */
  deathSignal: number;
  /**
   * clone3 with CLONE_VM: the child runs in the supervisor's memory until execve, which saves
   * copying its page tables. Off whenever a step before execve would change state the kernel
   * keeps per memory owner, and so change the supervisor (see sandbox/share-memory.ts).
   */
  cloneVm: boolean;
  seccomp: SeccompPlan | null;
  cgroup: CgroupPlan | null;
  /**
   * Routing-policy rules the jail's init adds to its network namespace (src/net/plan.ts), and
   * whether it waits for the supervisor's network link (resources.netGate) first; null = neither.
   */
  network: { rules: NetRulePlan[]; gate: boolean } | null;
  exec: {
    /** Absolute path to execve (ignored when the launch has an execFd). */
    path: string;
    argv: string[];
    envp: string[];
  };
}
