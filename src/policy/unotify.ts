/**
 * Seccomp user notifications as two stacked filters. The kernel gives a listener only to the
 * filter installed with it, and the jail's child must hand that listener to the supervisor after
 * installing it (native/unotify.cc). So the child installs two filters: first the listener
 * filter, which returns USER_NOTIF where the jail wants a notification and ALLOW everywhere else,
 * then the policy with USER_NOTIF turned into ALLOW. The kernel runs both and takes the stricter
 * verdict (KILL > TRAP > ERRNO > USER_NOTIF > TRACE > LOG > ALLOW), so the pair decides exactly
 * what the policy alone would, with a listener behind each USER_NOTIF.
 *
 * Two sources of USER_NOTIF: kafel's `USER_NOTIF { ... }` rules, and nsjail's seccomp_unotify,
 * which watches the file and network syscalls below under a policy of its own (USER_NOTIF for
 * them, DEFAULT ALLOW), stacked under the user's policy, so a syscall the user's policy refuses
 * is refused without a notification, as in nsjail.
 */
import { RET } from './actions';
import { syscallNumber } from './syscalls';
import type { ArchName, Filter, SockFilter } from './types';

/** nsjail's seccomp_unotify list (unotify/syscall_defs.h), in kafel's names. */
export const UNOTIFY_SYSCALLS = [
  'open', 'newstat', 'newlstat', 'access', 'chmod', 'chown', 'lchown', 'readlink', 'mkdir', 'mknod', 'rmdir', 'unlink', 'execve',
  'chdir', 'chroot', 'openat', 'openat2', 'newfstatat', 'faccessat', 'fchmodat', 'fchownat', 'readlinkat', 'mkdirat', 'mknodat',
  'unlinkat', 'execveat', 'rename', 'link', 'symlink', 'renameat', 'renameat2', 'linkat', 'symlinkat', 'connect', 'bind', 'sendto',
  'socket',
] as const;

export interface StackedFilters {
  /** Installed first, with the listener. */
  listener: SockFilter[];
  /** Installed last: the policy without USER_NOTIF; [] when there is no policy. */
  policy: SockFilter[];
}

const BPF_RET_K = 0x06;
const BPF_JMP_JA = 0x05;

function isUserNotif(k: number): boolean {
  return ((k & 0xffff0000) >>> 0) === RET.USER_NOTIF;
}

/** The program with each RET K's value replaced by `f(k)` (codegen returns only constants). */
function mapReturns(insns: readonly SockFilter[], f: (k: number) => number): SockFilter[] {
  return insns.map((i) => (i.code === BPF_RET_K ? { ...i, k: f(i.k) } : i));
}

/** `first` where each RET ALLOW goes on to `then` instead: USER_NOTIF if either says so. */
function chain(first: readonly SockFilter[], then: readonly SockFilter[]): SockFilter[] {
  const out = first.map((i, at) => (i.code === BPF_RET_K && i.k === RET.ALLOW ? { code: BPF_JMP_JA, jt: 0, jf: 0, k: first.length - at - 1 } : i));
  return [...out, ...then];
}

/** nsjail's seccomp_unotify policy for `archs` (the names every one of them has). */
export function unotifyPolicySource(archs: readonly ArchName[]): string {
  const names = UNOTIFY_SYSCALLS.filter((n) => archs.every((a) => syscallNumber(a, n) !== undefined));
  return `USER_NOTIF { ${names.join(', ')} } DEFAULT ALLOW`;
}

/**
 * The two filters for a jail whose policy notifies, or that has watch policies of jail's own
 * (`watches`, compiled `USER_NOTIF {...} DEFAULT ALLOW` programs: seccomp_unotify's
 * unotifyPolicySource, the network watch); null when nothing is notified (the policy is then
 * installed as it is, without a listener).
 */
export function stackForListener(policy: Filter | null, watches: readonly Filter[]): StackedFilters | null {
  const notified = policy?.usesUserNotif ? mapReturns(policy.insns, (k) => (isUserNotif(k) ? k : RET.ALLOW)) : null;
  const parts = [...watches.map((w) => w.insns), ...(notified ? [notified] : [])];
  if (parts.length === 0) return null;
  const listener = parts.reduceRight((then, first) => chain(first, then));
  return { listener: [...listener], policy: policy ? mapReturns(policy.insns, (k) => (isUserNotif(k) ? RET.ALLOW : k)) : [] };
}
