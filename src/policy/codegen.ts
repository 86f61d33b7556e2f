/**
 * Classic-BPF code generation.
 *
 * Shape: `ld arch; jeq ARCH…` (a foreign arch gets KILL_PROCESS whatever the DEFAULT), then per
 * arch `ld nr` and a search tree of `jge` over syscall-number ranges, weighted by how often
 * programs make each syscall (frequency.ts) so hot syscalls take fewer instructions; leaves
 * are returns or the rule chain of one number, whose argument tests work on 32-bit halves.
 *
 * Code is emitted backwards (from the returns up), so every jump is forward and its distance is
 * known when it is emitted: a target farther than a jump offset reaches gets a re-emitted `ret`
 * or a `ja` trampoline. Loads are elided where A provably already holds the value (the
 * "key" of a load sequence), e.g. `fd == 1 || fd == 2` loads fd once.
 */
import { JailError } from '../errors';
import type { CmpOp } from './ast';
import { AUDIT_ARCH } from './arch';
import { RET } from './actions';
import { BPF, BPF_MAXINSNS, BPF_MEMWORDS, SECCOMP_DATA, argOffset, insn, ldAbs, ret } from './bpf';
import type { Cond, Val } from './conditions';
import { SYSCALL_FREQUENCY } from './frequency';
import type { Candidate, ResolvedPolicy } from './resolve';
import { syscallName, syscallNumber } from './syscalls';
import type { ArchName, SockFilter } from './types';

type Target = { kind: 'ret'; value: number } | { kind: 'code'; pos: number };

/** jt/jf are 8 bits; two below 255 leave room for the trampolines emitted with a jump. */
const MAX_JUMP = 253;
const LOW = 0xffffffff;
const NR_KEY = `[${SECCOMP_DATA.nr}]`;
/** x86_64 x32 syscalls are `nr | __X32_SYSCALL_BIT`; numbers up to 0x7fffffff can reach one. */
const X32_FIRST = 0x40000000;
const X32_LAST = 0x7fffffff;
/** Above this many ranges the optimal tree (quadratic memory) gives way to a weight-balanced one. */
const MAX_OPTIMAL_RANGES = 400;

const sameTarget = (a: Target, b: Target) =>
  a.kind === 'ret' ? b.kind === 'ret' && a.value === b.value : b.kind === 'code' && a.pos === b.pos;
const retTarget = (value: number): Target => ({ kind: 'ret', value });

/** The reversed program under construction: rev[0] is the last instruction. */
class Emitter {
  readonly rev: SockFilter[] = [];
  private readonly lastRet = new Map<number, number>();

  /** Where a jump from the instruction `reserve` slots ahead can go for `t`, adding a ret or ja if it is too far. */
  private reach(t: Target, reserve: number): number {
    const from = this.rev.length + reserve;
    if (t.kind === 'code') {
      if (from - t.pos - 1 <= MAX_JUMP) return t.pos;
      this.rev.push(insn(BPF.JMP | BPF.JA, this.rev.length - t.pos - 1));
      return this.rev.length - 1;
    }
    const last = this.lastRet.get(t.value);
    if (last !== undefined && from - last - 1 <= MAX_JUMP) return last;
    this.rev.push(ret(t.value));
    this.lastRet.set(t.value, this.rev.length - 1);
    return this.rev.length - 1;
  }

  jump(code: number, k: number, t: Target, f: Target): Target {
    if (sameTarget(t, f)) return t;
    const jt = this.reach(t, 2);
    const jf = this.reach(f, 1);
    const pos = this.rev.length;
    this.rev.push(insn(code, k, pos - jt - 1, pos - jf - 1));
    return { kind: 'code', pos };
  }

  /** Straight-line `seq` running into `then`. Nothing needs computing before a return. */
  prepend(seq: SockFilter[], then: Target): Target {
    if (then.kind === 'ret') return then;
    if (then.pos !== this.rev.length - 1) {
      this.rev.push(insn(BPF.JMP | BPF.JA, this.rev.length - then.pos - 1));
    }
    for (let i = seq.length - 1; i >= 0; i--) this.rev.push(seq[i]);
    return { kind: 'code', pos: this.rev.length - 1 };
  }

  /** Makes sure `t` is an instruction (the program's entry must be one). */
  materialize(t: Target): void {
    if (t.kind === 'ret') this.rev.push(ret(t.value));
    else if (t.pos !== this.rev.length - 1) this.rev.push(insn(BPF.JMP | BPF.JA, this.rev.length - t.pos - 1));
  }

  program(): SockFilter[] {
    return [...this.rev].reverse();
  }
}

/** One 32-bit half of a value: a constant, or code that leaves it in A. */
type Half =
  | { kind: 'const'; k: number }
  | {
      kind: 'code';
      /** Identifies what A holds after `seq`: equal keys mean equal values. */
      key: string;
      seq: (slot: number) => SockFilter[];
      usesX: boolean;
      slots: number;
      /** Set for `inner & mask`, so `(x & m) == 0` can become `jset`. */
      masked?: { inner: Half & { kind: 'code' }; mask: number };
    };

function half(v: Val, hi: boolean): Half {
  if (v.kind === 'const') return { kind: 'const', k: Number((hi ? v.value >> 32n : v.value) & 0xffffffffn) };
  if (v.kind === 'arg') {
    const off = argOffset(v.index, hi);
    return { kind: 'code', key: `[${off}]`, seq: () => [ldAbs(off)], usesX: false, slots: 0 };
  }
  const l = half(v.left, hi);
  const r = half(v.right, hi);
  const op = v.kind === '&' ? BPF.AND : BPF.OR;
  if (l.kind === 'const' && r.kind === 'const') return { kind: 'const', k: (v.kind === '&' ? l.k & r.k : l.k | r.k) >>> 0 };
  if (l.kind === 'const' || r.kind === 'const') {
    const [c, o] = (l.kind === 'const' ? [l, r] : [r, l]) as [Half & { kind: 'const' }, Half & { kind: 'code' }];
    if (v.kind === '&' && c.k === 0) return c;
    if (v.kind === '&' && c.k === LOW) return o;
    if (v.kind === '|' && c.k === 0) return o;
    if (v.kind === '|' && c.k === LOW) return c;
    return {
      kind: 'code',
      key: `(${o.key}${v.kind}#${c.k})`,
      seq: (s) => [...o.seq(s), insn(BPF.ALU | op | BPF.K, c.k)],
      usesX: o.usesX,
      slots: o.slots,
      masked: v.kind === '&' ? { inner: o, mask: c.k } : undefined,
    };
  }
  return {
    kind: 'code',
    key: `(${l.key}${v.kind}${r.key})`,
    seq: (s) => [...withX(l, r, s), insn(BPF.ALU | op | BPF.X)],
    usesX: true,
    slots: l.usesX ? Math.max(r.slots, 1 + l.slots) : Math.max(r.slots, l.slots),
  };
}

/** Code leaving `l` in A and `r` in X; through scratch slot `s` when computing `l` needs X itself. */
function withX(l: Half & { kind: 'code' }, r: Half & { kind: 'code' }, s: number): SockFilter[] {
  if (!l.usesX) return [...r.seq(s), insn(BPF.MISC | BPF.TAX), ...l.seq(s)];
  return [...r.seq(s), insn(BPF.ST, s), ...l.seq(s + 1), insn(BPF.LDX | BPF.MEM, s)];
}

/** One jump on one half: what to load (key/seq), which jump, and whether true/false are swapped. */
type Test =
  | { kind: 'const'; result: boolean }
  | { kind: 'test'; key: string; seq: SockFilter[]; code: number; k: number; swap: boolean; slots: number };

type HalfOp = '==' | '>' | '>=';

function planTest(op: HalfOp, l: Half, r: Half): Test {
  let swap = false;
  if (l.kind === 'const' && r.kind === 'const') {
    return { kind: 'const', result: op === '==' ? l.k === r.k : op === '>' ? l.k > r.k : l.k >= r.k };
  }
  if (l.kind === 'const') {
    // c > A  is  !(A >= c);  c >= A  is  !(A > c)
    [l, r] = [r, l];
    if (op !== '==') {
      op = op === '>' ? '>=' : '>';
      swap = true;
    }
  }
  const a = l as Half & { kind: 'code' };
  const code = op === '==' ? BPF.JEQ : op === '>' ? BPF.JGT : BPF.JGE;
  if (r.kind === 'const') {
    if (r.k === 0 && a.masked && op !== '>=') {
      // (x & m) == 0  is  !jset m;  (x & m) > 0  is  jset m
      const inner = a.masked.inner;
      return { kind: 'test', key: inner.key, seq: inner.seq(0), code: BPF.JMP | BPF.JSET | BPF.K, k: a.masked.mask, swap: op === '==' ? !swap : swap, slots: inner.slots };
    }
    if (op === '>=' && r.k === 0) return { kind: 'const', result: !swap };
    if (op === '>' && r.k === LOW) return { kind: 'const', result: swap };
    return { kind: 'test', key: a.key, seq: a.seq(0), code: BPF.JMP | code | BPF.K, k: r.k, swap, slots: a.slots };
  }
  return {
    kind: 'test',
    key: `${a.key}?${r.key}`,
    seq: withX(a, r, 0),
    code: BPF.JMP | code | BPF.X,
    k: 0,
    swap,
    slots: a.usesX ? Math.max(r.slots, 1 + a.slots) : Math.max(r.slots, a.slots),
  };
}

/** A comparison as jumps on halves: `!=`, `<`, `<=` are `==`, `>=`, `>` with true/false swapped. */
function normalize(op: CmpOp): { op: HalfOp; swap: boolean } {
  switch (op) {
    case '==': return { op: '==', swap: false };
    case '!=': return { op: '==', swap: true };
    case '>': return { op: '>', swap: false };
    case '>=': return { op: '>=', swap: false };
    case '<': return { op: '>=', swap: true };
    case '<=': return { op: '>', swap: true };
  }
}

interface CmpPlan {
  lo: Test;
  /** Wide comparisons: `==` uses hiEq; `>`/`>=` use hiGt then hiGe. */
  hiEq?: Test;
  hiGt?: Test;
  hiGe?: Test;
  op: HalfOp;
  swap: boolean;
}

function planCmp(c: Cond & { kind: 'cmp' }): CmpPlan {
  const { op, swap } = normalize(c.op);
  const lo = planTest(op, half(c.left, false), half(c.right, false));
  if (!c.wide) return { lo, op, swap };
  const lh = half(c.left, true);
  const rh = half(c.right, true);
  if (op === '==') return { lo, hiEq: planTest('==', lh, rh), op, swap };
  return { lo, hiGt: planTest('>', lh, rh), hiGe: planTest('>=', lh, rh), op, swap };
}

function testKey(t: Test | undefined): string | undefined {
  return t?.kind === 'test' ? t.key : undefined;
}

/** What A holds at every exit of `c`'s code, when that is one thing (lets the next test skip its load). */
function exitKey(c: Cond): string | undefined {
  switch (c.kind) {
    case 'true':
    case 'false':
      return undefined;
    case 'not':
      return exitKey(c.cond);
    case 'and':
    case 'or': {
      const keys = c.items.map(exitKey);
      return keys.every((k) => k !== undefined && k === keys[0]) ? keys[0] : undefined;
    }
    case 'cmp': {
      const p = planCmp(c);
      const hiKeys = [p.hiEq, p.hiGt, p.hiGe].map(testKey).filter((k) => k !== undefined);
      const loKey = testKey(p.lo);
      const keys = loKey === undefined ? hiKeys : [...hiKeys, loKey];
      return keys.length > 0 && keys.every((k) => k === keys[0]) ? keys[0] : undefined;
    }
  }
}

class Generator {
  readonly em = new Emitter();
  maxSlots = 0;
  /** Syscall whose rules are being emitted, for error messages. */
  context = '';

  test(t: Test, yes: Target, no: Target, aKey: string | undefined): Target {
    if (t.kind === 'const') return t.result ? yes : no;
    const [jt, jf] = t.swap ? [no, yes] : [yes, no];
    const before = this.em.rev.length;
    const j = this.em.jump(t.code, t.k, jt, jf);
    if (this.em.rev.length === before) return j;
    if (t.slots > BPF_MEMWORDS) {
      throw new JailError('policy', `Required stack size exceeds available BPF memory (${this.context} needs ${t.slots} of ${BPF_MEMWORDS} scratch slots)`);
    }
    this.maxSlots = Math.max(this.maxSlots, t.slots);
    return aKey === t.key ? j : this.em.prepend(t.seq, j);
  }

  cond(c: Cond, yes: Target, no: Target, aKey: string | undefined): Target {
    switch (c.kind) {
      case 'true':
        return yes;
      case 'false':
        return no;
      case 'not':
        return this.cond(c.cond, no, yes, aKey);
      case 'and':
      case 'or': {
        let next = c.kind === 'and' ? yes : no;
        for (let i = c.items.length - 1; i >= 0; i--) {
          const entryKey = i === 0 ? aKey : exitKey(c.items[i - 1]);
          next = c.kind === 'and'
            ? this.cond(c.items[i], next, no, entryKey)
            : this.cond(c.items[i], yes, next, entryKey);
        }
        return next;
      }
      case 'cmp':
        return this.cmp(c, yes, no, aKey);
    }
  }

  private cmp(c: Cond & { kind: 'cmp' }, yes: Target, no: Target, aKey: string | undefined): Target {
    const p = planCmp(c);
    const [t, f] = p.swap ? [no, yes] : [yes, no];
    if (p.hiEq) {
      const lo = this.test(p.lo, t, f, testKey(p.hiEq) ?? aKey);
      return this.test(p.hiEq, lo, f, aKey);
    }
    if (p.hiGt && p.hiGe) {
      const hiKey = testKey(p.hiGt);
      const lo = this.test(p.lo, t, f, hiKey ?? aKey);
      // hi > k: true; hi == k: decided by the low half; hi < k: false. One jump suffices
      // when the low half's answer is fixed.
      if (sameTarget(lo, t)) return this.test(p.hiGe, t, f, aKey);
      if (sameTarget(lo, f)) return this.test(p.hiGt, t, f, aKey);
      const eq = this.test(p.hiGe, lo, f, hiKey);
      return this.test(p.hiGt, t, eq, aKey);
    }
    return this.test(p.lo, t, f, aKey);
  }

  /** The rule chain of one syscall number: first candidate whose condition holds decides. */
  chain(cands: Candidate[], fallback: number): Target {
    let next: Target = retTarget(fallback);
    for (let i = cands.length - 1; i >= 0; i--) {
      const aKey = i === 0 ? NR_KEY : exitKey(cands[i - 1].cond);
      next = this.cond(cands[i].cond, retTarget(cands[i].ret), next, aKey);
    }
    return next;
  }
}

interface Range {
  lo: number;
  hi: number;
  /** A return value, or the rule chain of the single number `lo`. */
  ret?: number;
  chain?: Candidate[];
  weight: number;
}

/** Candidates per number, cut after the first unconditional one (later ones can never match). */
function chains(candidates: Candidate[]): Map<number, Candidate[]> {
  const byNr = new Map<number, Candidate[]>();
  for (const c of candidates) {
    const list = byNr.get(c.nr) ?? [];
    if (list.length > 0 && list[list.length - 1].cond.kind === 'true') continue;
    list.push(c);
    byNr.set(c.nr, list);
  }
  return byNr;
}

/**
 * The action for numbers no rule names: DEFAULT, except x32 numbers on x86_64, which kill the
 * process. Like a foreign arch (generate), an x32 call comes from code the policy was not
 * written for: under DEFAULT ALLOW it would bypass a deny-list, and under KILL_THREAD a
 * multi-threaded program would lose one thread without anyone noticing.
 */
function fallbackFor(policy: ResolvedPolicy, nr: number): number {
  if (policy.arch === 'x86_64' && nr >= X32_FIRST && nr <= X32_LAST) return RET.KILL_PROCESS;
  return policy.defaultAction;
}

function buildRanges(policy: ResolvedPolicy): Range[] {
  const byNr = chains(policy.candidates);
  const nrs = [...byNr.keys()].sort((a, b) => a - b);
  const ranges: Range[] = [];
  const push = (r: Omit<Range, 'weight'>) => {
    const last = ranges[ranges.length - 1];
    if (last && r.ret !== undefined && last.ret === r.ret && last.hi + 1 === r.lo) last.hi = r.hi;
    else ranges.push({ ...r, weight: 0 });
  };
  const gap = (lo: number, hi: number) => {
    // Split where the fallback changes (x32 region boundaries).
    let start = lo;
    for (const cut of [X32_FIRST, X32_LAST + 1]) {
      if (cut > start && cut <= hi) {
        push({ lo: start, hi: cut - 1, ret: fallbackFor(policy, start) });
        start = cut;
      }
    }
    if (start <= hi) push({ lo: start, hi, ret: fallbackFor(policy, start) });
  };
  let next = 0;
  for (const nr of nrs) {
    if (nr > next) gap(next, nr - 1);
    const list = byNr.get(nr)!;
    const fallback = policy.defaultAction;
    const rets = list.map((c) => c.ret);
    if (list[list.length - 1].cond.kind !== 'true') rets.push(fallback);
    if (rets.every((r) => r === rets[0])) push({ lo: nr, hi: nr, ret: rets[0] });
    else push({ lo: nr, hi: nr, chain: list });
    next = nr + 1;
  }
  if (next <= LOW) gap(next, LOW);
  weigh(policy, ranges);
  return ranges;
}

/** Weight = how often a realistic program lands in the range (frequency.ts), plus a little per range. */
function weigh(policy: ResolvedPolicy, ranges: Range[]): void {
  const hot: [number, number][] = [];
  for (const [name, f] of Object.entries(SYSCALL_FREQUENCY)) {
    const nr = syscallNumber(policy.arch, name);
    if (nr !== undefined) hot.push([nr, f]);
  }
  hot.sort((a, b) => a[0] - b[0]);
  let h = 0;
  for (const r of ranges) {
    r.weight = 1 + (r.chain || policy.named.has(r.lo) ? 2 : 0);
    while (h < hot.length && hot[h][0] < r.lo) h++;
    for (let i = h; i < hot.length && hot[i][0] <= r.hi; i++) r.weight += hot[i][1];
  }
}

/** `jeq v ? S : T` decides [T, {v}, T] in one jump where a `jge` tree needs two. */
function isJeqTriple(r: Range[], i: number, j: number): boolean {
  return j - i === 2 && r[i + 1].lo === r[i + 1].hi && r[i].ret !== undefined && r[i].ret === r[j].ret;
}

/** Split points of the search tree: root[i][j] = first range of the right subtree. */
function treeRoots(r: Range[]): (i: number, j: number) => number {
  const n = r.length;
  const prefix = [0];
  for (const x of r) prefix.push(prefix[prefix.length - 1] + x.weight);
  const W = (i: number, j: number) => prefix[j + 1] - prefix[i];
  if (n > MAX_OPTIMAL_RANGES) {
    return (i, j) => {
      let best = i + 1;
      let bestDiff = Infinity;
      for (let k = i + 1; k <= j; k++) {
        const d = Math.abs(W(i, k - 1) - W(k, j));
        if (d < bestDiff) [best, bestDiff] = [k, d];
      }
      return best;
    };
  }
  // Optimal alphabetic tree (minimum weighted depth), Knuth's O(n^2) dynamic programme.
  const cost = new Float64Array(n * n);
  const root = new Int32Array(n * n);
  for (let i = 0; i < n; i++) root[i * n + i] = i;
  for (let len = 2; len <= n; len++) {
    for (let i = 0; i + len - 1 < n; i++) {
      const j = i + len - 1;
      let best = Infinity;
      let bestK = i + 1;
      const from = Math.max(i + 1, root[i * n + j - 1]);
      const to = Math.min(j, root[(i + 1) * n + j]);
      for (let k = from; k <= to; k++) {
        const c = cost[i * n + k - 1] + cost[k * n + j];
        if (c < best) [best, bestK] = [c, k];
      }
      best += W(i, j);
      if (isJeqTriple(r, i, j) && W(i, j) <= best) {
        best = W(i, j);
        bestK = i + 1;
      }
      cost[i * n + j] = best;
      root[i * n + j] = bestK;
    }
  }
  return (i, j) => root[i * n + j];
}

function emitArch(g: Generator, policy: ResolvedPolicy): Target {
  const r = buildRanges(policy);
  const rootOf = treeRoots(r);
  const leaf = (x: Range): Target => {
    if (x.ret !== undefined) return retTarget(x.ret);
    g.context = syscallName(policy.arch, x.lo) ?? `SYSCALL[${x.lo}]`;
    return g.chain(x.chain!, policy.defaultAction);
  };
  const tree = (i: number, j: number): Target => {
    if (i === j) return leaf(r[i]);
    if (isJeqTriple(r, i, j)) {
      const mid = leaf(r[i + 1]);
      return g.em.jump(BPF.JMP | BPF.JEQ | BPF.K, r[i + 1].lo, mid, retTarget(r[i].ret!));
    }
    const k = rootOf(i, j);
    const right = tree(k, j);
    const left = tree(i, k - 1);
    return g.em.jump(BPF.JMP | BPF.JGE | BPF.K, r[k].lo, right, left);
  };
  return g.em.prepend([ldAbs(SECCOMP_DATA.nr)], tree(0, r.length - 1));
}

export interface Generated {
  insns: SockFilter[];
  scratchSlots: number;
}

/**
 * The whole program for the given per-arch policies (in kafel's arch order). A syscall of any
 * other arch (i386 `int 0x80` on x86_64, AArch32 on arm64) kills the whole process: kafel's
 * KILL_THREAD would let a multi-threaded program lose one thread silently, and the supervisor
 * sees nothing to report. For the same reason there is no 1-instruction `ret KILL_THREAD`
 * program for all-KILL policies, as kafel emits: foreign and x32 calls still kill the process.
 */
export function generate(policies: ResolvedPolicy[]): Generated {
  const g = new Generator();
  const entries = new Map<ArchName, Target>();
  for (let i = policies.length - 1; i >= 0; i--) entries.set(policies[i].arch, emitArch(g, policies[i]));
  let next: Target = retTarget(RET.KILL_PROCESS);
  for (let i = policies.length - 1; i >= 0; i--) {
    next = g.em.jump(BPF.JMP | BPF.JEQ | BPF.K, AUDIT_ARCH[policies[i].arch], entries.get(policies[i].arch)!, next);
  }
  g.em.materialize(g.em.prepend([ldAbs(SECCOMP_DATA.arch)], next));
  const insns = g.em.program();
  if (insns.length > BPF_MAXINSNS) {
    throw new JailError('policy', `Filter length exceeds maximum seccomp filter length: ${insns.length} > ${BPF_MAXINSNS}`, {
      hint: 'the kernel refuses longer programs (BPF_MAXINSNS); merge rules into ranges or split the policy',
    });
  }
  return { insns, scratchSlots: g.maxSlots };
}
