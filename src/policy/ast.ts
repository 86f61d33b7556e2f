/** The parsed policy: what the source says, before it is resolved against a syscall table. */
import type { Loc } from './source';

/** Operand of a comparison: `bits := bits '|' band`, `band := band '&' operand`. */
export type Bits =
  | { kind: 'number'; value: bigint; loc: Loc }
  /** An argument name; constants were already replaced by numbers while parsing. */
  | { kind: 'arg'; name: string; loc: Loc }
  | { kind: '&' | '|'; left: Bits; right: Bits };

export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type BoolExpr =
  | { kind: 'or' | 'and'; items: BoolExpr[] }
  | { kind: 'not'; expr: BoolExpr }
  | { kind: 'cmp'; op: CmpOp; left: Bits; right: Bits; loc: Loc };

export type SyscallRef =
  | { kind: 'name'; name: string; loc: Loc }
  /** `SYSCALL[n]` or a `#define`d constant used as the name; already truncated to 32 bits. */
  | { kind: 'number'; nr: number; loc: Loc };

export interface Rule {
  syscall: SyscallRef;
  /** `name(a, b)`: positional argument names, each 8 bytes wide. Undefined: the table's names. */
  declaredArgs?: string[];
  /** `ON …`: kafel's canonical arch names the rule exists for. Undefined: every target. */
  archs?: string[];
  /** Undefined for a rule with no condition (or `{}`). */
  condition?: BoolExpr;
}

export type Entry =
  | { kind: 'use'; name: string; loc: Loc }
  | { kind: 'action'; ret: number; rules: Rule[] };

export interface PolicyDef {
  name: string;
  entries: Entry[];
  loc: Loc;
}

export interface Program {
  /** Named policies in definition order. */
  policies: Map<string, PolicyDef>;
  /** The implicit main policy: every file-scope entry in source order. */
  main: Entry[];
  defaultAction?: number;
}
