/**
 * Per-target resolution: syscall and argument names
 * against the arch's table, USE flattening with each policy expanded at most once, folding.
 * The result is the ordered candidate list codegen turns into BPF.
 */
import type { BoolExpr, Bits, Entry, Program, Rule } from './ast';
import type { ArchName } from './types';
import { type Cond, type Val, foldCmp, foldList, foldNot, isWide } from './conditions';
import { lookupSyscall, suggestSyscall } from './syscalls';
import { policyError } from './source';

export interface Candidate {
  nr: number;
  ret: number;
  cond: Cond;
}

export interface ResolvedPolicy {
  arch: ArchName;
  /** In flattened source order: for one number, the first candidate whose condition holds wins. */
  candidates: Candidate[];
  defaultAction: number;
  /** Numbers some rule names explicitly (even if its condition folded to false). */
  named: Set<number>;
}

interface ResolvedRule {
  nr: number;
  cond: Cond;
}

export function resolve(program: Program, arch: ArchName, defaultAction: number): ResolvedPolicy {
  const cache = new Map<Rule, ResolvedRule | null>();
  const resolveRule = (rule: Rule): ResolvedRule | null => {
    let r = cache.get(rule);
    if (r === undefined) {
      r = resolveOne(rule, arch);
      cache.set(rule, r);
    }
    return r;
  };
  // Every policy is validated for every target, used or not (kafel: definition order first).
  const validate = (entries: Entry[]) => {
    for (const e of entries) if (e.kind === 'action') for (const rule of e.rules) resolveRule(rule);
  };
  for (const def of program.policies.values()) validate(def.entries);
  validate(program.main);

  const candidates: Candidate[] = [];
  const named = new Set<number>();
  const used = new Set<string>();
  const flatten = (entries: Entry[]) => {
    for (const e of entries) {
      if (e.kind === 'use') {
        if (used.has(e.name)) continue;
        used.add(e.name);
        flatten(program.policies.get(e.name)!.entries);
        continue;
      }
      for (const rule of e.rules) {
        const r = resolveRule(rule);
        if (r === null) continue;
        named.add(r.nr);
        if (r.cond.kind !== 'false') candidates.push({ nr: r.nr, ret: e.ret, cond: r.cond });
      }
    }
  };
  flatten(program.main);
  return { arch, candidates, defaultAction, named };
}

/** null when an `ON` guard leaves the rule out for this arch (it is then not validated either). */
function resolveOne(rule: Rule, arch: ArchName): ResolvedRule | null {
  if (rule.archs && !rule.archs.includes(arch)) return null;
  const sc = rule.syscall;
  let nr: number;
  let args: { name: string; size: number }[] = [];
  let label: string;
  if (sc.kind === 'number') {
    nr = sc.nr;
    label = `SYSCALL[${nr}]`;
  } else {
    const info = lookupSyscall(arch, sc.name);
    if (!info) {
      const suggestion = suggestSyscall(arch, sc.name);
      throw policyError(
        `Undefined identifier '${sc.name}'`,
        sc.loc,
        `no syscall '${sc.name}' on ${arch}` + (suggestion ? `; did you mean '${suggestion}'?` : ''),
      );
    }
    nr = info.nr;
    args = info.args;
    label = sc.name;
  }
  if (rule.declaredArgs) args = rule.declaredArgs.map((name) => ({ name, size: 8 }));
  const cond = rule.condition ? resolveBool(rule.condition, args, label) : { kind: 'true' as const };
  return { nr, cond };
}

function resolveBool(e: BoolExpr, args: { name: string; size: number }[], label: string): Cond {
  switch (e.kind) {
    case 'or':
    case 'and':
      return foldList(e.kind, e.items.map((i) => resolveBool(i, args, label)));
    case 'not':
      return foldNot(resolveBool(e.expr, args, label));
    case 'cmp': {
      const left = resolveBits(e.left, args, label);
      const right = resolveBits(e.right, args, label);
      return foldCmp(e.op, left, right, isWide(left) || isWide(right));
    }
  }
}

function resolveBits(b: Bits, args: { name: string; size: number }[], label: string): Val {
  switch (b.kind) {
    case 'number':
      return { kind: 'const', value: b.value };
    case 'arg': {
      const index = args.findIndex((a) => a.name === b.name);
      if (index < 0) {
        const names = args.map((a) => a.name).filter((n) => !n.startsWith('_'));
        throw policyError(
          `Undefined identifier '${b.name}'`,
          b.loc,
          names.length > 0 ? `arguments of ${label}: ${names.join(', ')}` : `${label} has no named arguments; declare them: ${label}(a, b, …)`,
        );
      }
      return { kind: 'arg', index, size: args[index].size };
    }
    default:
      return { kind: b.kind, left: resolveBits(b.left, args, label), right: resolveBits(b.right, args, label) };
  }
}
