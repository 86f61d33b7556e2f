/**
 * The kafel lexer: tokens with their source positions.
 * `#include` is handled here, as in kafel: the named files' tokens are spliced into the stream.
 */
import { type Loc, Source, policyError } from './source';

export const KEYWORDS = new Set([
  'POLICY', 'USE', 'DEFAULT', 'SYSCALL', 'ON', 'define', 'ALLOW', 'LOG', 'KILL', 'KILL_THREAD',
  'KILL_PROCESS', 'DENY', 'ERRNO', 'TRAP', 'TRACE', 'USER_NOTIF',
]);

export type TokenKind = 'ident' | 'keyword' | 'number' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The text as written (for `punct` and `keyword` the operator or word itself). */
  text: string;
  /** Value of a number, modulo 2^64. */
  value: bigint;
  loc: Loc;
}

const MAX_INCLUDE_DEPTH = 16;
const U64 = (1n << 64n) - 1n;
const TWO_CHAR = new Set(['==', '!=', '<=', '>=', '&&', '||']);
const ONE_CHAR = new Set(['{', '}', '(', ')', '[', ']', ',', '!', '#', '<', '>', '&', '|']);

/** Reads an include file; returns undefined when no search path has it. */
export type IncludeReader = (name: string) => { path: string; text: string } | undefined;

interface Frame {
  source: Source;
  pos: number;
  /** Include nesting: 0 for the main file. */
  depth: number;
}

const isDigit = (c: string) => c >= '0' && c <= '9';
const isAlpha = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isIdentChar = (c: string) => isAlpha(c) || isDigit(c) || c === '_';

export class Lexer {
  /** Innermost source last; the main file is frames[0]. */
  private readonly frames: Frame[];
  private lastLoc: Loc;

  constructor(main: Source, private readonly readInclude: IncludeReader) {
    this.frames = [{ source: main, pos: 0, depth: 0 }];
    this.lastLoc = { source: main, pos: 0, length: 1 };
  }

  next(): Token {
    for (;;) {
      const f = this.frames[this.frames.length - 1];
      this.skipBlanks(f);
      if (f.pos >= f.source.text.length) {
        if (this.frames.length === 1) return this.token(f, 'eof', f.pos, '');
        this.frames.pop();
        continue;
      }
      const text = f.source.text;
      const start = f.pos;
      const c = text[start];
      if (c === '#' && text.startsWith('include', start + 1) && !isIdentChar(text[start + 8] ?? '')) {
        f.pos += 8;
        this.include(f, start);
        continue;
      }
      if (isAlpha(c)) {
        while (f.pos < text.length && isIdentChar(text[f.pos])) f.pos++;
        const word = text.slice(start, f.pos);
        return this.token(f, KEYWORDS.has(word) ? 'keyword' : 'ident', start, word);
      }
      if (isDigit(c) || (c === '-' && text[start + 1] >= '1' && text[start + 1] <= '9')) return this.number(f);
      const two = text.slice(start, start + 2);
      if (TWO_CHAR.has(two)) {
        f.pos += 2;
        return this.token(f, 'punct', start, two);
      }
      if (ONE_CHAR.has(c)) {
        f.pos += 1;
        return this.token(f, 'punct', start, c);
      }
      throw this.unexpectedChar(f, start);
    }
  }

  private token(f: Frame, kind: TokenKind, start: number, text: string, value = 0n): Token {
    const loc = { source: f.source, pos: start, length: Math.max(1, f.pos - start) };
    this.lastLoc = loc;
    return { kind, text, value, loc };
  }

  private unexpectedChar(f: Frame, pos: number) {
    const c = f.source.text[pos];
    const shown = c === '\r' ? '\\r' : c === '\t' ? '\\t' : c;
    const hint = c === '\r' ? 'kafel accepts only LF line endings; convert the file (e.g. dos2unix)' : undefined;
    return policyError(`unexpected char '${shown}'`, { source: f.source, pos, length: 1 }, hint);
  }

  /** Whitespace is space, tab and newline only; comments as in kafel, including its `**\/` quirk. */
  private skipBlanks(f: Frame): void {
    const text = f.source.text;
    for (;;) {
      const c = text[f.pos];
      if (c === ' ' || c === '\t' || c === '\n') {
        f.pos++;
      } else if (c === '/' && text[f.pos + 1] === '/') {
        while (f.pos < text.length && text[f.pos] !== '\n') f.pos++;
      } else if (c === '/' && text[f.pos + 1] === '*') {
        const start = f.pos;
        f.pos += 2;
        for (;;) {
          if (f.pos >= text.length) throw policyError('unterminated comment', { source: f.source, pos: start, length: 2 });
          // A star always takes the next character with it, so `**/` never closes (kafel).
          if (text[f.pos] === '*') {
            const after = text[f.pos + 1];
            f.pos += 2;
            if (after === '/') break;
            if (after === undefined) f.pos = text.length;
          } else {
            f.pos++;
          }
        }
      } else {
        return;
      }
    }
  }

  /** decimal `0|-?[1-9][0-9]*`, hex `0x…`, binary `0b…`, octal `0[0-9]+` (stops at 8/9, as strtoull). */
  private number(f: Frame): Token {
    const text = f.source.text;
    const start = f.pos;
    const isHex = (c: string) => isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    let value: bigint;
    if (text[start] === '0' && text[start + 1] === 'x' && isHex(text[start + 2] ?? '')) {
      f.pos += 2;
      while (f.pos < text.length && isHex(text[f.pos])) f.pos++;
      value = BigInt(text.slice(start, f.pos));
    } else if (text[start] === '0' && text[start + 1] === 'b' && (text[start + 2] === '0' || text[start + 2] === '1')) {
      f.pos += 2;
      while (text[f.pos] === '0' || text[f.pos] === '1') f.pos++;
      value = BigInt(text.slice(start, f.pos));
    } else if (text[start] === '0' && isDigit(text[start + 1] ?? '')) {
      f.pos++;
      while (f.pos < text.length && isDigit(text[f.pos])) f.pos++;
      const octal = /^[0-7]*/.exec(text.slice(start + 1, f.pos))![0];
      value = octal === '' ? 0n : BigInt('0o' + octal);
    } else {
      if (text[f.pos] === '-') f.pos++;
      if (text[f.pos] === '0') f.pos++;
      else while (f.pos < text.length && isDigit(text[f.pos])) f.pos++;
      const digits = text.slice(start, f.pos);
      value = BigInt(digits.replace('-', ''));
      if (value <= U64 && digits.startsWith('-')) value = (1n << 64n) - value;
    }
    const tok = this.token(f, 'number', start, text.slice(start, f.pos), value);
    if (value > U64) throw policyError(`number '${tok.text}' out of range`, tok.loc);
    return tok;
  }

  /** `#include "a" "b"` up to a newline or `;`, each name after whitespace, searched only in the include paths. */
  private include(f: Frame, start: number): void {
    const text = f.source.text;
    const names: { name: string; loc: Loc }[] = [];
    for (;;) {
      const blankStart = f.pos;
      while (text[f.pos] === ' ' || text[f.pos] === '\t') f.pos++;
      const c = text[f.pos];
      if (c === undefined) throw policyError('unterminated include statement', { source: f.source, pos: start, length: 8 });
      if (c === '\n' || c === ';') {
        f.pos++;
        break;
      }
      if (c !== '"' || f.pos === blankStart) throw policyError('unexpected filename', { source: f.source, pos: f.pos, length: 1 });
      const close = text.indexOf('"', f.pos + 1);
      const nl = text.indexOf('\n', f.pos + 1);
      if (close < 0 || (nl >= 0 && nl < close) || close === f.pos + 1) {
        throw policyError('unexpected filename', { source: f.source, pos: f.pos, length: 1 });
      }
      names.push({ name: text.slice(f.pos + 1, close), loc: { source: f.source, pos: f.pos, length: close - f.pos + 1 } });
      f.pos = close + 1;
    }
    // Pushed in reverse so the first file's tokens come first.
    for (const { name, loc } of names.reverse()) {
      if (f.depth >= MAX_INCLUDE_DEPTH) {
        throw policyError(`maximum include depth (${MAX_INCLUDE_DEPTH}) exceeded`, loc);
      }
      const found = this.readInclude(name);
      if (!found) throw policyError(`could not include file '${name}'`, loc, 'includes are searched only in the -I / includePaths directories');
      this.frames.push({ source: new Source(found.path, found.text), pos: 0, depth: f.depth + 1 });
    }
  }

  /** Where the last token was: syntax errors at end of input point here. */
  get lastLocation(): Loc {
    return this.lastLoc;
  }
}
