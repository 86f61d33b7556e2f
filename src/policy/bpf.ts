/** Classic BPF opcodes (include/uapi/linux/filter.h, bpf_common.h) and the seccomp_data layout. */
import type { SockFilter } from './types';

export const BPF = {
  LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, RET: 0x06, MISC: 0x07,
  W: 0x00, H: 0x08, B: 0x10,
  IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, LEN: 0x80, MSH: 0xa0,
  ADD: 0x00, SUB: 0x10, MUL: 0x20, DIV: 0x30, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70, NEG: 0x80, MOD: 0x90, XOR: 0xa0,
  JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40,
  K: 0x00, X: 0x08, A: 0x10,
  TAX: 0x00, TXA: 0x80,
} as const;

/** Scratch memory slots M[0..15]. */
export const BPF_MEMWORDS = 16;
/** BPF_MAXINSNS: the kernel refuses longer seccomp programs with EINVAL. */
export const BPF_MAXINSNS = 4096;

/** struct seccomp_data: nr u32 @0, arch u32 @4, instruction_pointer u64 @8, args u64[6] @16. */
export const SECCOMP_DATA = { nr: 0, arch: 4, ip: 8, args: 16, size: 64 } as const;

/** Offset of 32-bit half `hi` (true) or low of argument `index`: little-endian, low word first. */
export function argOffset(index: number, hi: boolean): number {
  return SECCOMP_DATA.args + 8 * index + (hi ? 4 : 0);
}

export const insn = (code: number, k = 0, jt = 0, jf = 0): SockFilter => ({ code, jt, jf, k: k >>> 0 });
export const ldAbs = (offset: number) => insn(BPF.LD | BPF.W | BPF.ABS, offset);
export const ret = (value: number) => insn(BPF.RET | BPF.K, value);
