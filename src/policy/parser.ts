/**
 * Recursive-descent parser for kafel. Each function carries the
 * grammar rule it implements. Constants are resolved here, at the point of use, as in kafel.
 */
import type { Bits, BoolExpr, CmpOp, Entry, PolicyDef, Program, Rule, SyscallRef } from './ast';
import { RET } from './actions';
import { guardArch } from './arch';
import { type IncludeReader, Lexer, type Token, type TokenKind } from './lexer';
import { type Loc, Source, policyError } from './source';

const MAX_EXPR_DEPTH = 200;
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

export function parsePolicy(text: string, file: string, readInclude: IncludeReader): Program {
  return new Parser(new Lexer(new Source(file, text), readInclude)).file();
}

class Parser {
  private tok: Token;
  /** Tokens read ahead (by parenIsBoolean) and not yet consumed. */
  private readonly buffer: Token[] = [];
  /** Where the last consumed token was: syntax errors at end of input and expression spans end here. */
  private lastLoc: Loc;
  private readonly constants = new Map<string, bigint>();
  private readonly program: Program = { policies: new Map(), main: [] };
  private depth = 0;

  constructor(private readonly lexer: Lexer) {
    this.tok = lexer.next();
    this.lastLoc = this.tok.loc;
  }

  /** A method, not a property read, so TypeScript does not narrow it across advance(). */
  private kind(): TokenKind {
    return this.tok.kind;
  }

  private pull(): Token {
    return this.buffer.shift() ?? this.lexer.next();
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
      if (!this.is('}')) rule.condition = this.boolExpr();
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

  private enter(loc: Loc): void {
    if (++this.depth > MAX_EXPR_DEPTH) throw policyError(`Max expression depth (${MAX_EXPR_DEPTH}) exceeded`, loc);
  }

  /** bool_expr := bool_expr ',' or_expr   -- ',' is OR with the lowest precedence */
  private boolExpr(): BoolExpr {
    const items = [this.orExpr()];
    while (this.is(',')) {
      this.advance();
      items.push(this.orExpr());
    }
    return items.length === 1 ? items[0] : { kind: 'or', items };
  }

  /** or_expr := or_expr '||' and_expr */
  private orExpr(): BoolExpr {
    const items = [this.andExpr()];
    while (this.is('||')) {
      this.advance();
      items.push(this.andExpr());
    }
    return items.length === 1 ? items[0] : { kind: 'or', items };
  }

  /** and_expr := and_expr '&&' primary */
  private andExpr(): BoolExpr {
    const items = [this.primary()];
    while (this.is('&&')) {
      this.advance();
      items.push(this.primary());
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  }

  /** primary := '(' bool_expr ')' | '!' primary | bits cmp bits */
  private primary(): BoolExpr {
    const t = this.tok;
    this.enter(t.loc);
    try {
      if (this.is('!')) {
        this.advance();
        return { kind: 'not', expr: this.primary() };
      }
      if (this.is('(') && this.parenIsBoolean()) {
        this.advance();
        const e = this.boolExpr();
        this.expect(')', "',', '||', '&&' or ')'");
        return e;
      }
      const left = this.bits();
      if (!CMP_OPS.has(this.tok.text) || this.kind() !== 'punct') throw this.syntaxError("a comparison ('==', '!=', '<', '<=', '>', '>=')");
      const op = this.advance().text as CmpOp;
      const right = this.bits();
      const end = this.lastLoc;
      const loc = t.loc.source === end.source ? { ...t.loc, length: end.pos + end.length - t.loc.pos } : t.loc;
      return { kind: 'cmp', op, left, right, loc };
    } finally {
      this.depth--;
    }
  }

  /**
   * At '(' in primary position, decide between '(' bool_expr ')' and a parenthesised bits
   * operand (`(flags & 3) == 2`): it is a bits operand when the group holds no comparison or
   * boolean operator, or when its matching ')' is followed by a comparison or bit operator.
   * The tokens read to decide are put back in front of the stream.
   */
  private parenIsBoolean(): boolean {
    const ahead: Token[] = [];
    let level = 0;
    let sawBoolean = false;
    let t = this.tok;
    for (;;) {
      if (t.kind === 'punct') {
        if (t.text === '(') level++;
        else if (t.text === ')' && --level === 0) break;
        else if (CMP_OPS.has(t.text) || t.text === '!' || t.text === '&&' || t.text === '||' || t.text === ',') sawBoolean = true;
      }
      if (t.kind === 'eof') break;
      t = this.pull();
      ahead.push(t);
    }
    let after = t;
    if (t.kind !== 'eof') {
      after = this.pull();
      ahead.push(after);
    }
    this.buffer.unshift(...ahead);
    const followedByOperator = after.kind === 'punct' && (CMP_OPS.has(after.text) || after.text === '&' || after.text === '|');
    return sawBoolean && !followedByOperator;
  }

  /** bits := bits '|' band */
  private bits(): Bits {
    let left = this.band();
    while (this.is('|')) {
      this.advance();
      left = { kind: '|', left, right: this.band() };
    }
    return left;
  }

  /** band := band '&' operand */
  private band(): Bits {
    let left = this.operand();
    while (this.is('&')) {
      this.advance();
      left = { kind: '&', left, right: this.operand() };
    }
    return left;
  }

  /** operand := NUMBER | IDENT | '(' bits ')'   -- an IDENT that is a constant defined so far is that number */
  private operand(): Bits {
    const t = this.tok;
    if (t.kind === 'number') {
      this.advance();
      return { kind: 'number', value: t.value, loc: t.loc };
    }
    if (t.kind === 'ident') {
      this.advance();
      const constant = this.constants.get(t.text);
      return constant !== undefined ? { kind: 'number', value: constant, loc: t.loc } : { kind: 'arg', name: t.text, loc: t.loc };
    }
    if (this.is('(')) {
      this.enter(t.loc);
      try {
        this.advance();
        const inner = this.bits();
        this.expect(')', "'&', '|' or ')'");
        return inner;
      } finally {
        this.depth--;
      }
    }
    throw this.syntaxError('a number, an argument name or \'(\'');
  }
}
