/**
 * A userspace classic-BPF interpreter with the kernel's seccomp semantics: the program is
 * checked as seccomp_check_filter/bpf_check_classic would, then run over a 64-byte
 * little-endian struct seccomp_data. Used by `policy eval`, the tests and the benchmark.
 */
import type { Filter, SeccompData, SockFilter } from './types';
import { BPF, BPF_MAXINSNS, BPF_MEMWORDS, SECCOMP_DATA } from './bpf';

/** Opcodes seccomp accepts (kernel/seccomp.c seccomp_check_filter). */
const ALLOWED = new Set<number>([
  BPF.LD | BPF.W | BPF.ABS, BPF.LD | BPF.W | BPF.LEN, BPF.LDX | BPF.W | BPF.LEN,
  BPF.RET | BPF.K, BPF.RET | BPF.A,
  ...[BPF.ADD, BPF.SUB, BPF.MUL, BPF.DIV, BPF.AND, BPF.OR, BPF.XOR, BPF.LSH, BPF.RSH].flatMap((op) => [
    BPF.ALU | op | BPF.K, BPF.ALU | op | BPF.X,
  ]),
  BPF.ALU | BPF.NEG,
  BPF.LD | BPF.IMM, BPF.LDX | BPF.IMM, BPF.MISC | BPF.TAX, BPF.MISC | BPF.TXA,
  BPF.LD | BPF.MEM, BPF.LDX | BPF.MEM, BPF.ST, BPF.STX,
  BPF.JMP | BPF.JA,
  ...[BPF.JEQ, BPF.JGE, BPF.JGT, BPF.JSET].flatMap((op) => [BPF.JMP | op | BPF.K, BPF.JMP | op | BPF.X]),
]);

/** Throws Error with the kernel's reason when the kernel would refuse `insns` (EINVAL). */
export function checkFilter(insns: readonly SockFilter[]): void {
  const n = insns.length;
  if (n === 0 || n > BPF_MAXINSNS) throw new Error(`program length ${n} not in 1..${BPF_MAXINSNS}`);
  for (let pc = 0; pc < n; pc++) {
    const i = insns[pc];
    if (!ALLOWED.has(i.code)) throw new Error(`insn ${pc}: opcode 0x${i.code.toString(16)} not allowed in seccomp`);
    if (i.code === (BPF.LD | BPF.W | BPF.ABS) && (i.k >= SECCOMP_DATA.size || i.k % 4 !== 0)) {
      throw new Error(`insn ${pc}: ld [${i.k}] outside seccomp_data or unaligned`);
    }
    const cls = i.code & 0x07;
    const usesSlot = [BPF.LD | BPF.MEM, BPF.LDX | BPF.MEM, BPF.ST, BPF.STX].includes(i.code);
    if (usesSlot && i.k >= BPF_MEMWORDS) throw new Error(`insn ${pc}: scratch slot ${i.k} out of range`);
    if (i.code === (BPF.ALU | BPF.DIV | BPF.K) && i.k === 0) throw new Error(`insn ${pc}: division by constant 0`);
    if (cls === BPF.JMP) {
      const targets = (i.code & 0xf0) === BPF.JA ? [pc + 1 + i.k] : [pc + 1 + i.jt, pc + 1 + i.jf];
      for (const t of targets) if (t >= n) throw new Error(`insn ${pc}: jump out of range`);
    }
  }
  if ((insns[n - 1].code & 0x07) !== BPF.RET) throw new Error('last instruction is not a return');
  checkMemoryInit(insns);
}

/** bpf_check_classic's rule: M[i] may be read only where every path has stored it. */
function checkMemoryInit(insns: readonly SockFilter[]): void {
  const ALL = (1 << BPF_MEMWORDS) - 1;
  const valid = new Array<number>(insns.length).fill(ALL);
  valid[0] = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    const i = insns[pc];
    let mem = valid[pc];
    if (i.code === (BPF.LD | BPF.MEM) || i.code === (BPF.LDX | BPF.MEM)) {
      if (!(mem & (1 << i.k))) throw new Error(`insn ${pc}: M[${i.k}] read before any store`);
    }
    if (i.code === BPF.ST || i.code === BPF.STX) mem |= 1 << i.k;
    const cls = i.code & 0x07;
    if (cls === BPF.RET) continue;
    const next = cls !== BPF.JMP ? [pc + 1] : (i.code & 0xf0) === BPF.JA ? [pc + 1 + i.k] : [pc + 1 + i.jt, pc + 1 + i.jf];
    for (const t of next) valid[t] &= mem;
  }
}

function dataBytes(d: SeccompData): DataView {
  const v = new DataView(new ArrayBuffer(SECCOMP_DATA.size));
  v.setUint32(SECCOMP_DATA.nr, d.nr >>> 0, true);
  v.setUint32(SECCOMP_DATA.arch, d.arch >>> 0, true);
  v.setBigUint64(SECCOMP_DATA.ip, BigInt.asUintN(64, d.ip ?? 0n), true);
  for (let i = 0; i < 6; i++) v.setBigUint64(SECCOMP_DATA.args + 8 * i, BigInt.asUintN(64, d.args[i] ?? 0n), true);
  return v;
}

export interface Run {
  ret: number;
  /** Instructions executed, the return included. */
  executed: number;
}

/** Runs `filter` on `data`; the 32-bit seccomp return value and how many instructions it took. */
export function run(filter: Filter, data: SeccompData): Run {
  const insns = filter.insns;
  const view = dataBytes(data);
  const M = new Uint32Array(BPF_MEMWORDS);
  let A = 0;
  let X = 0;
  let executed = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    const { code, k, jt, jf } = insns[pc];
    executed++;
    const src = code & BPF.X ? X : k;
    switch (code & 0x07) {
      case BPF.LD:
        if ((code & 0xe0) === BPF.ABS) A = view.getUint32(k, true);
        else if ((code & 0xe0) === BPF.LEN) A = SECCOMP_DATA.size;
        else if ((code & 0xe0) === BPF.MEM) A = M[k];
        else A = k;
        break;
      case BPF.LDX:
        if ((code & 0xe0) === BPF.LEN) X = SECCOMP_DATA.size;
        else if ((code & 0xe0) === BPF.MEM) X = M[k];
        else X = k;
        break;
      case BPF.ST:
        M[k] = A;
        break;
      case BPF.STX:
        M[k] = X;
        break;
      case BPF.ALU:
        // Classic BPF ends the program with 0 on a runtime division by zero.
        if ((code & 0xf0) === BPF.DIV && src === 0) return { ret: 0, executed };
        A = alu(code & 0xf0, A, src >>> 0);
        break;
      case BPF.JMP: {
        const op = code & 0xf0;
        if (op === BPF.JA) {
          pc += k;
          break;
        }
        const a = A >>> 0;
        const b = src >>> 0;
        const taken = op === BPF.JEQ ? a === b : op === BPF.JGT ? a > b : op === BPF.JGE ? a >= b : (a & b) !== 0;
        pc += taken ? jt : jf;
        break;
      }
      case BPF.RET:
        return { ret: (code & BPF.A ? A : k) >>> 0, executed };
      case BPF.MISC:
        if ((code & 0xf8) === BPF.TXA) A = X;
        else X = A;
        break;
    }
  }
  throw new Error('BPF program ran off its end');
}

function alu(op: number, a: number, b: number): number {
  switch (op) {
    case BPF.ADD: return (a + b) >>> 0;
    case BPF.SUB: return (a - b) >>> 0;
    case BPF.MUL: return Math.imul(a, b) >>> 0;
    case BPF.DIV: return Math.floor(a / b) >>> 0;
    case BPF.OR: return (a | b) >>> 0;
    case BPF.AND: return (a & b) >>> 0;
    case BPF.XOR: return (a ^ b) >>> 0;
    case BPF.LSH: return b >= 32 ? 0 : (a << b) >>> 0;
    case BPF.RSH: return b >= 32 ? 0 : a >>> b;
    case BPF.NEG: return -a >>> 0;
    default: throw new Error(`ALU op 0x${op.toString(16)} not allowed in seccomp`);
  }
}

/** The seccomp return value `filter` gives for `data` (what the kernel would act on). */
export function evaluate(filter: Filter, data: SeccompData): number {
  return run(filter, data).ret;
}
