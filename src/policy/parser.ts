/**
 * Recursive-descent parser for kafel. Each function carries the
 * grammar rule it implements. Constants are resolved here, at the point of use, as in kafel.
 */
import type { Bits, BoolExpr, CmpOp, Entry, PolicyDef, Program, Rule, SyscallRef } from './ast';
import { RET } from './actions';
import { guardArch } from './arch';
import { type IncludeReader, Lexer, type Token, type TokenKind } from './lexer';
import { type Loc, Source, policyError } from './source';

/** kafel's MAX_EXPRESSION_DEPTH (src/expression.h), counted as in kafel: see Parser.deeper. */
const MAX_EXPR_DEPTH = 200;
/**
 * jail's bound on nested parentheses, the one construct parsed by recursion. Each level takes a
 * dozen stack frames; about 600 fit in Node's stack, so 200 leaves room for a caller's own stack.
 * kafel's LALR parser has a bound of the same kind (its stack of 10,000 states, then "memory
 * exhausted"). Parentheses add no depth, but each pair that means something encloses an operand
 * of an operator, which does: more than 200 of those exceed MAX_EXPR_DEPTH anyway.
 */
const MAX_GROUP_NESTING = 200;
const MAX_DECLARED_ARGS = 6;
const CMP_OPS = new Set(['==', '!=', '<', '<=', '>', '>=']);
const SIMPLE_ACTIONS: Readonly<Record<string, number>> = {
  ALLOW: RET.ALLOW,
  LOG: RET.LOG,
  KILL: RET.KILL_THREAD,
  KILL_THREAD: RET.KILL_THREAD,
  DENY: RET.KILL_THREAD,
  KILL_PROCESS: RET.KILL_PROCESS,
  USER_NOTIF: RET.USER_NOTIF,
};
const DATA_ACTIONS: Readonly<Record<string, [number, string]>> = {
  ERRNO: [RET.ERRNO, 'Errno'],
  TRAP: [RET.TRAP, 'Trap'],
  TRACE: [RET.TRACE, 'Trace'],
};

/** An expression and its depth as kafel counts it. */
interface Sized<T> {
  node: T;
  depth: number;
}

export function parsePolicy(text: string, file: string, readInclude: IncludeReader): Program {
  return new Parser(new Lexer(new Source(file, text), readInclude)).file();
}

class Parser {
  private tok: Token;
  /** Tokens read ahead (by parenIsBoolean) and not yet consumed, from `aheadAt` on. */
  private ahead: Token[] = [];
  private aheadAt = 0;
  /** Whether the group opened by this '(' token is a boolean one (see parenIsBoolean). */
  private readonly groupKinds = new Map<Token, boolean>();
  /** Parentheses open around the token being parsed. */
  private groups = 0;
  /** Where the last consumed token was: syntax errors at end of input and expression spans end here. */
  private lastLoc: Loc;
  private readonly constants = new Map<string, bigint>();
  private readonly program: Program = { policies: new Map(), main: [] };

  constructor(private readonly lexer: Lexer) {
    this.tok = lexer.next();
    this.lastLoc = this.tok.loc;
  }

  /** A method, not a property read, so TypeScript does not narrow it across advance(). */
  private kind(): TokenKind {
    return this.tok.kind;
  }

  private pull(): Token {
    if (this.aheadAt < this.ahead.length) return this.ahead[this.aheadAt++];
    this.ahead = [];
    this.aheadAt = 0;
    return this.lexer.next();
  }

  /** The token `n` places after the current one (0: the current one), read ahead when needed. */
  private peek(n: number): Token {
    if (n === 0) return this.tok;
    while (this.ahead.length - this.aheadAt < n) this.ahead.push(this.lexer.next());
    return this.ahead[this.aheadAt + n - 1];
  }

  private advance(): Token {
    const t = this.tok;
    this.lastLoc = t.loc;
    this.tok = this.pull();
    return t;
  }

  private is(text: string): boolean {
    return (this.kind() === 'punct' || this.kind() === 'keyword') && this.tok.text === text;
  }

  private expect(text: string, what = `'${text}'`): Token {
    if (!this.is(text)) throw this.syntaxError(what);
    return this.advance();
  }

  private syntaxError(expecting: string) {
    const t = this.tok;
    const found =
      t.kind === 'eof' ? 'end of file'
      : t.kind === 'ident' ? `identifier '${t.text}'`
      : t.kind === 'number' ? `number '${t.text}'`
      : `'${t.text}'`;
    const loc = t.kind === 'eof' ? this.lastLoc : t.loc;
    return policyError(`syntax error, unexpected ${found}, expecting ${expecting}`, loc);
  }

  private isEntryStart(): boolean {
    return this.kind() === 'keyword' && (this.tok.text === 'USE' || this.tok.text in SIMPLE_ACTIONS || this.tok.text in DATA_ACTIONS);
  }

  /** file := stmt+ */
  file(): Program {
    if (this.kind() === 'eof') throw this.syntaxError('a policy statement');
    while (this.kind() !== 'eof') this.stmt();
    return this.program;
  }

  /**
   * stmt := '#' 'define' IDENT NUMBER
   *       | 'POLICY' IDENT '{' [ entry (',' entry)* ] '}'
   *       | entry (',' entry)*          -- file scope: commas between entries are optional
   *       | 'DEFAULT' action
   */
  private stmt(): void {
    if (this.is('#')) return this.define();
    if (this.is('POLICY')) return this.policy();
    if (this.is('DEFAULT')) {
      const kw = this.advance();
      const ret = this.action();
      if (this.program.defaultAction !== undefined) throw policyError('Redefinition of default action', kw.loc);
      this.program.defaultAction = ret;
      return;
    }
    if (!this.isEntryStart()) throw this.syntaxError("'#define', 'POLICY', 'USE', 'DEFAULT' or an action");
    this.program.main.push(this.entry());
    while (this.is(',')) {
      this.advance();
      if (!this.isEntryStart()) throw this.syntaxError("'USE' or an action");
      this.program.main.push(this.entry());
    }
  }

  /** '#' 'define' IDENT NUMBER */
  private define(): void {
    this.expect('#');
    this.expect('define');
    if (this.kind() !== 'ident') throw this.syntaxError('a constant name');
    const name = this.advance();
    if (this.kind() !== 'number') throw this.syntaxError('a number');
    const value = this.advance().value;
    const was = this.constants.get(name.text);
    if (was !== undefined && was !== value) {
      throw policyError(`Redefinition of constant '${name.text}' with different value (was: ${was} is: ${value})`, name.loc);
    }
    this.constants.set(name.text, value);
  }

  /** 'POLICY' IDENT '{' [ entry (',' entry)* ] '}' */
  private policy(): void {
    this.expect('POLICY');
    if (this.kind() !== 'ident') throw this.syntaxError('a policy name');
    const name = this.advance();
    this.expect('{');
    const entries: Entry[] = [];
    if (!this.is('}')) {
      entries.push(this.entry());
      while (this.is(',')) {
        this.advance();
        entries.push(this.entry());
      }
    }
    this.expect('}', "',' or '}'");
    if (this.program.policies.has(name.text)) throw policyError(`Redefinition of policy '${name.text}'`, name.loc);
    const def: PolicyDef = { name: name.text, entries, loc: name.loc };
    this.program.policies.set(name.text, def);
  }

  /** entry := 'USE' IDENT | action '{' [ rule (',' rule)* ] '}' */
  private entry(): Entry {
    if (this.is('USE')) {
      this.advance();
      if (this.kind() !== 'ident') throw this.syntaxError('a policy name');
      const name = this.advance();
      if (!this.program.policies.has(name.text)) throw policyError(`Undefined policy '${name.text}'`, name.loc);
      return { kind: 'use', name: name.text, loc: name.loc };
    }
    const ret = this.action();
    this.expect('{');
    const rules: Rule[] = [];
    if (!this.is('}')) {
      rules.push(this.rule());
      while (this.is(',')) {
        this.advance();
        rules.push(this.rule());
      }
    }
    this.expect('}', "',' or '}'");
    return { kind: 'action', ret, rules };
  }

  /** action := ALLOW | LOG | KILL | KILL_THREAD | DENY | KILL_PROCESS | USER_NOTIF | (ERRNO|TRAP|TRACE) '(' NUMBER ')' */
  private action(): number {
    const t = this.tok;
    if (t.kind === 'keyword' && t.text in SIMPLE_ACTIONS) {
      this.advance();
      return SIMPLE_ACTIONS[t.text];
    }
    if (t.kind === 'keyword' && t.text in DATA_ACTIONS) {
      this.advance();
      const [base, label] = DATA_ACTIONS[t.text];
      this.expect('(');
      if (this.kind() !== 'number') throw this.syntaxError('a number');
      const n = this.advance();
      this.expect(')');
      if (n.value > 0xffffn) throw policyError(`${label} value ${n.value} out of range (0-65535)`, n.loc);
      return (base | Number(n.value)) >>> 0;
    }
    throw this.syntaxError('an action');
  }

  /**
   * rule    := syscall [ 'ON' archs ] [ '{' [ bool_expr ] '}' ]
   * syscall := IDENT [ '(' [ IDENT (',' IDENT)* ] ')' ] | 'SYSCALL' '[' NUMBER ']' [ '(' … ')' ]
   */
  private rule(): Rule {
    let syscall: SyscallRef;
    if (this.is('SYSCALL')) {
      const kw = this.advance();
      this.expect('[');
      if (this.kind() !== 'number') throw this.syntaxError('a number');
      const n = this.advance();
      this.expect(']');
      syscall = { kind: 'number', nr: Number(n.value & 0xffffffffn), loc: { ...kw.loc, length: n.loc.pos - kw.loc.pos + n.loc.length + 1 } };
    } else if (this.kind() === 'ident') {
      const name = this.advance();
      const constant = this.constants.get(name.text);
      syscall = constant !== undefined
        ? { kind: 'number', nr: Number(constant & 0xffffffffn), loc: name.loc }
        : { kind: 'name', name: name.text, loc: name.loc };
    } else {
      throw this.syntaxError('a syscall name');
    }
    const rule: Rule = { syscall };
    if (this.is('(')) rule.declaredArgs = this.declaredArgs();
    if (this.is('ON')) {
      this.advance();
      rule.archs = this.archs();
    }
    if (this.is('{')) {
      this.advance();
      if (!this.is('}')) rule.condition = this.boolExpr().node;
      this.expect('}', "',', '||', '&&' or '}'");
    }
    return rule;
  }

  /** '(' [ IDENT (',' IDENT)* ] ')' */
  private declaredArgs(): string[] {
    this.expect('(');
    const names: string[] = [];
    if (!this.is(')')) {
      for (;;) {
        if (this.kind() !== 'ident') throw this.syntaxError('an argument name');
        const t = this.advance();
        if (names.includes(t.text)) throw policyError(`Redefinition of argument '${t.text}'`, t.loc);
        if (names.length === MAX_DECLARED_ARGS) throw policyError('Too many arguments defined for syscall', t.loc);
        names.push(t.text);
        if (!this.is(',')) break;
        this.advance();
      }
    }
    this.expect(')', "',' or ')'");
    return names;
  }

  /** archs := IDENT | '{' IDENT (',' IDENT)* '}' */
  private archs(): string[] {
    const one = (seen: string[]): void => {
      if (this.kind() !== 'ident') throw this.syntaxError('an architecture name');
      const t = this.advance();
      const arch = guardArch(t.text);
      if (arch === undefined) throw policyError(`Unknown architecture '${t.text}'`, t.loc);
      if (seen.includes(arch)) throw policyError(`Duplicate architecture '${t.text}'`, t.loc);
      seen.push(arch);
    };
    const seen: string[] = [];
    if (this.is('{')) {
      this.advance();
      one(seen);
      while (this.is(',')) {
        this.advance();
        one(seen);
      }
      this.expect('}', "',' or '}'");
    } else {
      one(seen);
    }
    return seen;
  }

  /**
   * kafel's depth of an operator node whose operands are `operands` deep: a number or name is 0
   * deep, an operator one more than its deepest operand, and parentheses add nothing. Like kafel,
   * a node deeper than MAX_EXPR_DEPTH is refused where kafel reports it: at the first token of its
   * left operand, or at its '!'.
   */
  private deeper(loc: Loc, ...operands: number[]): number {
    const depth = Math.max(...operands);
    if (depth >= MAX_EXPR_DEPTH) throw policyError(`Max expression depth (${MAX_EXPR_DEPTH}) exceeded`, loc);
    return depth + 1;
  }

  /**
   * A left-associative chain `item (op item)*`, read in a loop. kafel builds one node per
   * operator, ((a op b) op c), so its depth grows with the chain; `combine` builds jail's node.
   */
  private chain<T>(op: string, item: () => Sized<T>, combine: (items: T[]) => T): Sized<T> {
    const start = this.tok.loc;
    const first = item();
    const items = [first.node];
    let depth = first.depth;
    while (this.is(op)) {
      this.advance();
      const next = item();
      depth = this.deeper(start, depth, next.depth);
      items.push(next.node);
    }
    return { node: items.length === 1 ? items[0] : combine(items), depth };
  }

  /** Recursion happens only at '(' (everything else is a loop): bounded here, so no input overflows the stack. */
  private group<T>(inner: () => Sized<T>, close: string): Sized<T> {
    const open = this.expect('(');
    if (++this.groups > MAX_GROUP_NESTING) {
      throw policyError(`parentheses nested deeper than ${MAX_GROUP_NESTING}`, open.loc);
    }
    try {
      const e = inner();
      this.expect(')', close);
      return e;
    } finally {
      this.groups--;
    }
  }

  /** bool_expr := bool_expr ',' or_expr   -- ',' is OR with the lowest precedence */
  private boolExpr(): Sized<BoolExpr> {
    return this.chain(',', () => this.orExpr(), (items) => ({ kind: 'or', items }));
  }

  /** or_expr := or_expr '||' and_expr */
  private orExpr(): Sized<BoolExpr> {
    return this.chain('||', () => this.andExpr(), (items) => ({ kind: 'or', items }));
  }

  /** and_expr := and_expr '&&' primary */
  private andExpr(): Sized<BoolExpr> {
    return this.chain('&&', () => this.primary(), (items) => ({ kind: 'and', items }));
  }

  /** primary := '!' primary | '(' bool_expr ')' | bits cmp bits   -- a run of '!' is read in a loop */
  private primary(): Sized<BoolExpr> {
    const nots: Loc[] = [];
    while (this.is('!')) nots.push(this.advance().loc);
    let e = this.comparisonOrGroup();
    for (const loc of nots.reverse()) e = { node: { kind: 'not', expr: e.node }, depth: this.deeper(loc, e.depth) };
    return e;
  }

  private comparisonOrGroup(): Sized<BoolExpr> {
    if (this.is('(') && this.parenIsBoolean()) return this.group(() => this.boolExpr(), "',', '||', '&&' or ')'");
    const start = this.tok.loc;
    const left = this.bits();
    if (!CMP_OPS.has(this.tok.text) || this.kind() !== 'punct') throw this.syntaxError("a comparison ('==', '!=', '<', '<=', '>', '>=')");
    const op = this.advance().text as CmpOp;
    const right = this.bits();
    const end = this.lastLoc;
    const loc = start.source === end.source ? { ...start, length: end.pos + end.length - start.pos } : start;
    return { node: { kind: 'cmp', op, left: left.node, right: right.node, loc }, depth: this.deeper(start, left.depth, right.depth) };
  }

  /**
   * At '(' in primary position, decide between '(' bool_expr ')' and a parenthesised bits
   * operand (`(flags & 3) == 2`): it is a bits operand when the group holds no comparison or
   * boolean operator, or when its matching ')' is followed by a comparison or bit operator.
   * One look ahead to the matching ')' decides this group and every group nested in it (kept in
   * `groupKinds`), so nested groups are not scanned again; the tokens stay in `ahead`.
   */
  private parenIsBoolean(): boolean {
    const known = this.groupKinds.get(this.tok);
    if (known !== undefined) return known;
    const open: Array<{ tok: Token; sawBoolean: boolean }> = [];
    const close = (after: Token): void => {
      const g = open.pop()!;
      const followedByOperator = after.kind === 'punct' && (CMP_OPS.has(after.text) || after.text === '&' || after.text === '|');
      this.groupKinds.set(g.tok, g.sawBoolean && !followedByOperator);
      if (open.length > 0) open[open.length - 1].sawBoolean ||= g.sawBoolean;
    };
    let closedBefore = false;
    for (let i = 0; ; i++) {
      const t = this.peek(i);
      if (closedBefore) close(t);
      closedBefore = false;
      if (t.kind === 'eof') {
        while (open.length > 0) close(t);
        break;
      }
      if (t.kind !== 'punct') continue;
      if (t.text === '(') open.push({ tok: t, sawBoolean: false });
      else if (t.text === ')') closedBefore = true;
      else if (CMP_OPS.has(t.text) || t.text === '!' || t.text === '&&' || t.text === '||' || t.text === ',') open[open.length - 1].sawBoolean = true;
      if (closedBefore && open.length === 1) {
        close(this.peek(i + 1));
        break;
      }
    }
    return this.groupKinds.get(this.tok)!;
  }

  /** bits := bits '|' band */
  private bits(): Sized<Bits> {
    return this.chain('|', () => this.band(), (items) => items.reduce((left, right) => ({ kind: '|', left, right })));
  }

  /** band := band '&' operand */
  private band(): Sized<Bits> {
    return this.chain('&', () => this.operand(), (items) => items.reduce((left, right) => ({ kind: '&', left, right })));
  }

  /** operand := NUMBER | IDENT | '(' bits ')'   -- an IDENT that is a constant defined so far is that number */
  private operand(): Sized<Bits> {
    const t = this.tok;
    if (t.kind === 'number') {
      this.advance();
      return { node: { kind: 'number', value: t.value, loc: t.loc }, depth: 0 };
    }
    if (t.kind === 'ident') {
      this.advance();
      const constant = this.constants.get(t.text);
      return { node: constant !== undefined ? { kind: 'number', value: constant, loc: t.loc } : { kind: 'arg', name: t.text, loc: t.loc }, depth: 0 };
    }
    if (this.is('(')) return this.group(() => this.bits(), "'&', '|' or ')'");
    throw this.syntaxError('a number, an argument name or \'(\'');
  }
}
