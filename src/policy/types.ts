/**
 * The output of the policy stage: a classic-BPF seccomp program ready for the kernel.
 * A policy is source text; a filter is BPF (docs/architecture.md §1).
 */

/** One `struct sock_filter`: 16-bit opcode, 8-bit jump offsets, 32-bit constant. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Target architectures a filter can be compiled for (kafel's names). */
export type ArchName = 'x86_64' | 'aarch64';

export interface Filter {
  /** The architectures the program accepts, in the order its arch checks test them. */
  archs: ArchName[];
  insns: SockFilter[];
  /** True when some rule returns SECCOMP_RET_USER_NOTIF (the loader must ask for a listener). */
  usesUserNotif: boolean;
  /** True when the loader should pass SECCOMP_FILTER_FLAG_LOG (nsjail's seccomp_log). */
  log?: boolean;
}

/** Input of one seccomp evaluation: what the kernel puts in `struct seccomp_data`. */
export interface SeccompData {
  /** AUDIT_ARCH_* value. */
  arch: number;
  /** Syscall number, 32-bit unsigned. */
  nr: number;
  /** Instruction pointer (rarely used by filters). */
  ip?: bigint;
  /** Up to six 64-bit arguments. */
  args: bigint[];
}
