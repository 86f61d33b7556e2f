/**
 * Argument conditions after name resolution: values on unsigned
 * 64-bit numbers, the 32/64-bit width rule, and constant folding.
 */
import type { CmpOp } from './ast';

export type Val =
  | { kind: 'const'; value: bigint }
  /** Argument `index` of seccomp_data.args; `size` is kafel's width (8, 4 or 2 bytes). */
  | { kind: 'arg'; index: number; size: number }
  | { kind: '&' | '|'; left: Val; right: Val };

export type Cond =
  | { kind: 'true' }
  | { kind: 'false' }
  /** `wide`: compare both 32-bit halves; otherwise only the low halves (kafel's width rule). */
  | { kind: 'cmp'; op: CmpOp; left: Val; right: Val; wide: boolean }
  | { kind: 'not'; cond: Cond }
  | { kind: 'and' | 'or'; items: Cond[] };

export const TRUE: Cond = { kind: 'true' };
export const FALSE: Cond = { kind: 'false' };
const ALL_ONES = (1n << 64n) - 1n;
const LOW_MASK = 0xffffffffn;

/** A comparison is 64-bit when any leaf is an 8-byte argument or a literal above 0xffffffff. */
export function isWide(v: Val): boolean {
  switch (v.kind) {
    case 'const':
      return v.value > LOW_MASK;
    case 'arg':
      return v.size === 8;
    default:
      return isWide(v.left) || isWide(v.right);
  }
}

export function sameVal(a: Val, b: Val): boolean {
  if (a.kind === 'const' && b.kind === 'const') return a.value === b.value;
  if (a.kind === 'arg' && b.kind === 'arg') return a.index === b.index;
  if ((a.kind === '&' || a.kind === '|') && a.kind === b.kind) {
    return sameVal(a.left, b.left) && sameVal(a.right, b.right);
  }
  return false;
}

export function foldVal(v: Val): Val {
  if (v.kind !== '&' && v.kind !== '|') return v;
  const l = foldVal(v.left);
  const r = foldVal(v.right);
  if (l.kind === 'const' && r.kind === 'const') {
    return { kind: 'const', value: v.kind === '&' ? l.value & r.value : l.value | r.value };
  }
  for (const [c, other] of [[l, r], [r, l]] as const) {
    if (c.kind !== 'const') continue;
    if (v.kind === '&' && c.value === 0n) return c;
    if (v.kind === '&' && c.value === ALL_ONES) return other;
    if (v.kind === '|' && c.value === 0n) return other;
    if (v.kind === '|' && c.value === ALL_ONES) return c;
  }
  if (sameVal(l, r)) return l;
  return { kind: v.kind, left: l, right: r };
}

export function compare(op: CmpOp, a: bigint, b: bigint): boolean {
  switch (op) {
    case '==': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
  }
}

/** Mirror so the constant (if any) is on the right: `5 <= fd` is `fd >= 5`. */
const MIRROR: Readonly<Record<CmpOp, CmpOp>> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

export function foldCmp(op: CmpOp, left: Val, right: Val, wide: boolean): Cond {
  let l = foldVal(left);
  let r = foldVal(right);
  const mask = wide ? ALL_ONES : LOW_MASK;
  if (l.kind === 'const' && r.kind === 'const') return compare(op, l.value & mask, r.value & mask) ? TRUE : FALSE;
  if (sameVal(l, r)) return op === '==' || op === '<=' || op === '>=' ? TRUE : FALSE;
  if (l.kind === 'const') {
    [l, r] = [r, l];
    op = MIRROR[op];
  }
  if (r.kind === 'const') {
    const k = r.value & mask;
    // Unsigned bounds: nothing is below 0 or above the all-ones value of the compared width.
    if ((op === '<' && k === 0n) || (op === '>' && k === mask)) return FALSE;
    if ((op === '>=' && k === 0n) || (op === '<=' && k === mask)) return TRUE;
    r = { kind: 'const', value: k };
  }
  return { kind: 'cmp', op, left: l, right: r, wide };
}

export function foldNot(c: Cond): Cond {
  if (c.kind === 'true') return FALSE;
  if (c.kind === 'false') return TRUE;
  if (c.kind === 'not') return c.cond;
  return { kind: 'not', cond: c };
}

export function foldList(kind: 'and' | 'or', items: Cond[]): Cond {
  const absorbing = kind === 'and' ? 'false' : 'true';
  const neutral = kind === 'and' ? 'true' : 'false';
  const out: Cond[] = [];
  for (const c of items) {
    if (c.kind === absorbing) return c;
    if (c.kind === neutral) continue;
    if (c.kind === kind) out.push(...c.items);
    else out.push(c);
  }
  if (out.length === 0) return kind === 'and' ? TRUE : FALSE;
  return out.length === 1 ? out[0] : { kind, items: out };
}

/** The reference semantics of a condition on concrete arguments (tests compare BPF against it). */
export function evalCond(c: Cond, args: readonly bigint[]): boolean {
  switch (c.kind) {
    case 'true': return true;
    case 'false': return false;
    case 'not': return !evalCond(c.cond, args);
    case 'and': return c.items.every((i) => evalCond(i, args));
    case 'or': return c.items.some((i) => evalCond(i, args));
    case 'cmp': {
      const mask = c.wide ? ALL_ONES : LOW_MASK;
      return compare(c.op, evalVal(c.left, args) & mask, evalVal(c.right, args) & mask);
    }
  }
}

function evalVal(v: Val, args: readonly bigint[]): bigint {
  switch (v.kind) {
    case 'const': return v.value;
    case 'arg': return args[v.index] ?? 0n;
    case '&': return evalVal(v.left, args) & evalVal(v.right, args);
    case '|': return evalVal(v.left, args) | evalVal(v.right, args);
  }
}
