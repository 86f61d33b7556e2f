/**
 * Architectures: kafel's target names, AUDIT_ARCH_* values (what the kernel writes into
 * seccomp_data.arch) and the names `ON` guards and `policy eval` inputs accept.
 */
import type { ArchName } from './types';

export const AUDIT_ARCH: Readonly<Record<ArchName, number>> = {
  x86_64: 0xc000003e,
  aarch64: 0xc00000b7,
};

/** Every AUDIT_ARCH a seccomp filter can see on the machines we care about, by a readable name. */
const AUDIT_ARCH_BY_NAME: Readonly<Record<string, number>> = {
  x86_64: 0xc000003e,
  aarch64: 0xc00000b7,
  i386: 0x40000003,
  arm: 0x40000028,
  riscv64: 0xc00000f3,
  mips: 0x00000008,
  mipsel: 0x40000008,
  mips64: 0x80000008,
  mipsel64: 0xc0000008,
  m68k: 0x00000004,
  s390x: 0x80000016,
  ppc64le: 0xc0000015,
};

/** Kafel's arch order: checks for the highest kafel arch bit come first (x86_64 before aarch64). */
export const ARCH_ORDER: readonly ArchName[] = ['x86_64', 'aarch64'];

/**
 * Names accepted after `ON` (case-insensitive), mapped to kafel's canonical arch. Kafel knows
 * more targets than we compile for; a guard naming one of those is valid and simply never
 * matches one of our targets.
 */
const GUARD_NAMES: Readonly<Record<string, string>> = {
  arm: 'arm',
  aarch64: 'aarch64',
  arm64: 'aarch64',
  x86_64: 'x86_64',
  amd64: 'x86_64',
  x86: 'i386',
  i386: 'i386',
  mips: 'mips',
  mipso32: 'mips',
  mips64: 'mips64',
  riscv64: 'riscv64',
  rv64: 'riscv64',
  m68k: 'm68k',
};

/** The canonical kafel arch for an `ON` name, or undefined when kafel does not know it. */
export function guardArch(name: string): string | undefined {
  return GUARD_NAMES[name.toLowerCase()];
}

export function isArchName(name: string): name is ArchName {
  return name === 'x86_64' || name === 'aarch64';
}

/** The arch this process runs on (kafel's default target). */
export function hostArch(): ArchName {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'aarch64';
  throw new Error(`unsupported host architecture ${process.arch}`);
}

/** `x86_64` for 0xc000003e; `0x…` for an AUDIT_ARCH we have no name for. */
export function archFromAudit(n: number): string {
  for (const [name, v] of Object.entries(AUDIT_ARCH_BY_NAME)) if (v === n >>> 0) return name;
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** AUDIT_ARCH value for a name like `i386` (eval inputs), or undefined. */
export function auditFromName(name: string): number | undefined {
  return AUDIT_ARCH_BY_NAME[name.toLowerCase()];
}
