/** Readable and raw listings of a filter (`jail policy compile`, `--raw`). */
import { actionName } from './actions';
import { AUDIT_ARCH, archFromAudit } from './arch';
import { BPF, SECCOMP_DATA } from './bpf';
import { syscallName } from './syscalls';
import type { ArchName, Filter, SockFilter } from './types';

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

function operand(i: SockFilter): string {
  return i.code & BPF.X ? 'x' : `#${hex(i.k)}`;
}

function fieldName(k: number): string {
  if (k === SECCOMP_DATA.nr) return 'nr';
  if (k === SECCOMP_DATA.arch) return 'arch';
  if (k === SECCOMP_DATA.ip) return 'ip+0';
  if (k === SECCOMP_DATA.ip + 4) return 'ip+4';
  const arg = Math.floor((k - SECCOMP_DATA.args) / 8);
  return `args[${arg}]+${(k - SECCOMP_DATA.args) % 8}`;
}

const JUMPS: Record<number, string> = { [BPF.JEQ]: 'jeq', [BPF.JGT]: 'jgt', [BPF.JGE]: 'jge', [BPF.JSET]: 'jset' };
const ALU: Record<number, string> = {
  [BPF.ADD]: 'add', [BPF.SUB]: 'sub', [BPF.MUL]: 'mul', [BPF.DIV]: 'div', [BPF.OR]: 'or', [BPF.AND]: 'and',
  [BPF.XOR]: 'xor', [BPF.LSH]: 'lsh', [BPF.RSH]: 'rsh', [BPF.MOD]: 'mod',
};

function text(i: SockFilter, pc: number): string {
  switch (i.code & 0x07) {
    case BPF.LD:
      if ((i.code & 0xe0) === BPF.ABS) return `ld  ${fieldName(i.k)}`;
      if ((i.code & 0xe0) === BPF.MEM) return `ld  M[${i.k}]`;
      if ((i.code & 0xe0) === BPF.LEN) return 'ld  len';
      return `ld  #${hex(i.k)}`;
    case BPF.LDX:
      if ((i.code & 0xe0) === BPF.MEM) return `ldx M[${i.k}]`;
      if ((i.code & 0xe0) === BPF.LEN) return 'ldx len';
      return `ldx #${hex(i.k)}`;
    case BPF.ST:
      return `st  M[${i.k}]`;
    case BPF.STX:
      return `stx M[${i.k}]`;
    case BPF.ALU:
      return (i.code & 0xf0) === BPF.NEG ? 'neg' : `${ALU[i.code & 0xf0] ?? '?'} ${operand(i)}`;
    case BPF.JMP:
      if ((i.code & 0xf0) === BPF.JA) return `ja  ${pc + 1 + i.k}`;
      return `${(JUMPS[i.code & 0xf0] ?? '?').padEnd(4)}${operand(i).padEnd(12)}? ${pc + 1 + i.jt} : ${pc + 1 + i.jf}`;
    case BPF.RET:
      return i.code & BPF.A ? 'ret A' : `ret ${actionName(i.k)}`;
    default:
      return (i.code & 0xf8) === BPF.TXA ? 'txa' : 'tax';
  }
}

/**
 * What A holds before each instruction when every path agrees (`nr` or `arch`, and under which
 * arch check), so comparisons on syscall numbers can be annotated with names.
 */
function knownState(insns: readonly SockFilter[]): ({ a?: string; arch?: ArchName } | undefined)[] {
  const state: ({ a?: string; arch?: ArchName } | undefined)[] = new Array(insns.length);
  state[0] = {};
  const flow = (to: number, s: { a?: string; arch?: ArchName }) => {
    const cur = state[to];
    state[to] = cur === undefined ? { ...s } : { a: cur.a === s.a ? s.a : undefined, arch: cur.arch === s.arch ? s.arch : undefined };
  };
  for (let pc = 0; pc < insns.length; pc++) {
    const s = state[pc];
    if (s === undefined) continue;
    const i = insns[pc];
    const cls = i.code & 0x07;
    if (cls === BPF.RET) continue;
    if (cls !== BPF.JMP) {
      const a = cls === BPF.LD && (i.code & 0xe0) === BPF.ABS ? fieldName(i.k) : cls === BPF.LD || cls === BPF.ALU || cls === BPF.MISC ? undefined : s.a;
      flow(pc + 1, { a, arch: s.arch });
      continue;
    }
    if ((i.code & 0xf0) === BPF.JA) {
      flow(pc + 1 + i.k, s);
      continue;
    }
    const matched = Object.entries(AUDIT_ARCH).find(([, v]) => v === i.k)?.[0] as ArchName | undefined;
    const archCheck = s.a === 'arch' && (i.code & 0xf0) === BPF.JEQ && !(i.code & BPF.X);
    flow(pc + 1 + i.jt, archCheck && matched ? { ...s, arch: matched } : s);
    flow(pc + 1 + i.jf, s);
  }
  return state;
}

export function disassemble(filter: Filter): string {
  const insns = filter.insns;
  const state = knownState(insns);
  const width = String(insns.length - 1).length;
  const lines = insns.map((i, pc) => {
    let line = `${String(pc).padStart(width)}: ${text(i, pc)}`;
    const s = state[pc];
    const isCmpK = (i.code & 0x07) === BPF.JMP && (i.code & 0xf0) !== BPF.JA && !(i.code & BPF.X);
    if (isCmpK && s?.a === 'nr' && s.arch) {
      const name = syscallName(s.arch, i.k);
      const rel = { [BPF.JEQ]: '==', [BPF.JGE]: '>=', [BPF.JGT]: '>', [BPF.JSET]: '&' }[i.code & 0xf0];
      if (name) line = line.padEnd(width + 36) + `; nr ${rel} ${name}`;
    } else if (isCmpK && s?.a === 'arch') {
      line = line.padEnd(width + 36) + `; ${archFromAudit(i.k)}`;
    }
    return line;
  });
  return `; ${filter.archs.join('+')}: ${insns.length} instructions\n${lines.join('\n')}\n`;
}

/** The program as a C `struct sock_filter` array, ready for a test harness or a diff. */
export function rawListing(filter: Filter): string {
  const body = filter.insns
    .map((i) => `  { 0x${i.code.toString(16).padStart(4, '0')}, ${String(i.jt).padStart(3)}, ${String(i.jf).padStart(3)}, 0x${(i.k >>> 0).toString(16).padStart(8, '0')} },`)
    .join('\n');
  return `/* ${filter.archs.join('+')}: ${filter.insns.length} instructions */\nstruct sock_filter filter[] = {\n${body}\n};\n`;
}
