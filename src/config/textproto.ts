/**
 * Protobuf text format (what nsjail's sandbox.cfg files are), read the way protobuf's
 * TextFormat reads it: `#` comments, `field: value`, `field { ... }` / `field < ... >` with an
 * optional ':', `;` or `,` after a field, `[a, b]` lists, both quote kinds, adjacent string
 * concatenation, C escapes, decimal/hex/octal integers.
 *
 * This file knows only the syntax; build.ts applies the schema. Errors are collected, not
 * thrown: after a bad token the parser skips to the next plausible field and goes on, so one
 * run reports every mistake in the file.
 */
import { JailError } from '../errors';
import type { FieldEntry, MessageNode, TextScalar, ValueNode } from './ast';
import type { SourceText } from './source';

/** Past this many errors the rest of the file is not worth reading (load.ts caps the total). */
const MAX_ERRORS = 50;

type TokKind = 'ident' | 'int' | 'float' | 'string' | 'sym' | 'eof';

interface Token {
  kind: TokKind;
  text: string;
  start: number;
  end: number;
  /** Decoded bytes of a string literal. */
  bytes?: number[];
}

type Report = (message: string, start: number, end: number) => void;

// '.' and '/' only occur in extension and Any names, which are refused with a clear message.
const SYMBOLS = '{}<>[]:,;-./';
const isIdentStart = (c: string) => /[A-Za-z_]/.test(c);
const isIdentChar = (c: string) => /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';
const isHex = (c: string) => /[0-9a-fA-F]/.test(c);

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

const SIMPLE_ESCAPES: Record<string, number> = {
  a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63,
};

/** Splits the text into tokens; malformed pieces are reported and skipped or repaired. */
function lex(text: string, report: Report): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f') {
      i++;
    } else if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
    } else if (isIdentStart(c)) {
      const start = i;
      while (i < n && isIdentChar(text[i])) i++;
      tokens.push({ kind: 'ident', text: text.slice(start, i), start, end: i });
    } else if (isDigit(c) || (c === '.' && isDigit(text[i + 1] ?? ''))) {
      i = lexNumber(text, i, tokens, report);
    } else if (c === '"' || c === "'") {
      i = lexString(text, i, tokens, report);
    } else if (SYMBOLS.includes(c)) {
      tokens.push({ kind: 'sym', text: c, start: i, end: i + 1 });
      i++;
    } else {
      const cp = text.codePointAt(i) ?? 0;
      const w = cp > 0xffff ? 2 : 1;
      report(`unexpected character '${text.slice(i, i + w)}'`, i, i + w);
      i += w;
    }
  }
  tokens.push({ kind: 'eof', text: '', start: n, end: n });
  return tokens;
}

// Number := "0x" HexDigit+ | "0" OctDigit* | Digit+ [ "." Digit* ] [ Exp ] [ "f" ] | "." Digit+ [ Exp ] [ "f" ]
function lexNumber(text: string, start: number, tokens: Token[], report: Report): number {
  let i = start;
  let kind: TokKind = 'int';
  if (text[i] === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X')) {
    i += 2;
    const digits = i;
    while (i < text.length && isHex(text[i])) i++;
    if (i === digits) report('expected hexadecimal digits after 0x', start, i);
  } else {
    while (i < text.length && isDigit(text[i])) i++;
    if (text[i] === '.') {
      kind = 'float';
      i++;
      while (i < text.length && isDigit(text[i])) i++;
    }
    if ((text[i] === 'e' || text[i] === 'E') && /^[eE][+-]?\d/.test(text.slice(i, i + 3))) {
      kind = 'float';
      i += text[i + 1] === '+' || text[i + 1] === '-' ? 2 : 1;
      while (i < text.length && isDigit(text[i])) i++;
    }
    if (kind === 'float' && (text[i] === 'f' || text[i] === 'F')) i++;
    const body = text.slice(start, i);
    if (kind === 'int' && body.length > 1 && body[0] === '0' && /[89]/.test(body)) {
      report(`invalid octal number ${body} (a leading 0 means octal)`, start, i);
    }
  }
  const end = i;
  if (i < text.length && isIdentChar(text[i])) {
    while (i < text.length && isIdentChar(text[i])) i++;
    report(`need space between number and identifier in '${text.slice(start, i)}'`, start, i);
  }
  tokens.push({ kind, text: text.slice(start, end), start, end });
  return i;
}

// String := Quote { Char | Escape } Quote, on one line; Escape := "\" ( [abfnrtv\\'"?] | "x" Hex{1,2} | Oct{1,3} | "u" Hex{4} | "U" Hex{8} )
function lexString(text: string, start: number, tokens: Token[], report: Report): number {
  const quote = text[start];
  const bytes: number[] = [];
  let i = start + 1;
  for (;;) {
    if (i >= text.length || text[i] === '\n') {
      report('unterminated string: a string must end on the line it starts', start, i);
      break;
    }
    const c = text[i];
    if (c === quote) {
      i++;
      break;
    }
    if (c !== '\\') {
      const cp = text.codePointAt(i) ?? 0;
      pushUtf8(bytes, cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    i = lexEscape(text, i, bytes, report);
  }
  tokens.push({ kind: 'string', text: text.slice(start, i), start, end: i, bytes });
  return i;
}

function lexEscape(text: string, at: number, bytes: number[], report: Report): number {
  const e = text[at + 1] ?? '';
  let i = at + 2;
  if (e in SIMPLE_ESCAPES) {
    bytes.push(SIMPLE_ESCAPES[e]);
  } else if (e >= '0' && e <= '7') {
    i = at + 1;
    let v = 0;
    while (i < at + 4 && text[i] >= '0' && text[i] <= '7') v = v * 8 + Number(text[i++]);
    if (v > 255) report(`octal escape \\${text.slice(at + 1, i)} is larger than a byte (\\377)`, at, i);
    bytes.push(v & 255);
  } else if (e === 'x' || e === 'X') {
    while (i < at + 4 && isHex(text[i] ?? '')) i++;
    if (i === at + 2) report('\\x must be followed by one or two hexadecimal digits', at, i);
    else bytes.push(parseInt(text.slice(at + 2, i), 16));
  } else if (e === 'u' || e === 'U') {
    const len = e === 'u' ? 4 : 8;
    const hex = text.slice(i, i + len);
    if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) {
      report(`\\${e} must be followed by ${len} hexadecimal digits`, at, Math.min(text.length, i + len));
      return i;
    }
    i += len;
    let cp = parseInt(hex, 16);
    if (cp >= 0xd800 && cp <= 0xdbff && /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/.test(text.slice(i, i + 6))) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (parseInt(text.slice(i + 2, i + 6), 16) - 0xdc00);
      i += 6;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) report(`\\${e}${hex} is not a valid Unicode code point`, at, i);
    else pushUtf8(bytes, cp);
  } else {
    const shown = e === '' || e === '\n' ? 'at end of line' : `\\${e}`;
    report(`unknown escape sequence ${shown}; use \\\\ for a backslash`, at, Math.min(i, text.length));
    if (e === '\n' || e === '') return at + 1;
  }
  return i;
}

class Parser {
  private i = 0;

  constructor(
    private readonly toks: Token[],
    private readonly src: SourceText,
    private readonly errors: JailError[],
  ) {}

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }

  private sym(t: Token, s: string): boolean {
    return t.kind === 'sym' && t.text === s;
  }

  private get prev(): Token {
    return this.toks[Math.max(0, this.i - 1)];
  }

  get tooMany(): boolean {
    return this.errors.length >= MAX_ERRORS;
  }

  error(message: string, start: number, end: number): void {
    if (this.tooMany) return;
    this.errors.push(new JailError('config', message, { span: this.src.span(start, end) }));
    if (this.tooMany) {
      // Where it stopped, so even this line points into the file.
      this.errors.push(new JailError('config', `too many errors; stopped reading ${this.src.file}`, { span: this.src.span(start, end) }));
    }
  }

  private describe(t: Token): string {
    if (t.kind === 'eof') return 'end of file';
    return t.kind === 'string' ? t.text : `'${t.text}'`;
  }

  private lineOf(t: Token): number {
    return this.src.span(t.start).line;
  }

  // File := MessageBody EOF
  parseFile(): MessageNode {
    return this.parseBody(null);
  }

  // MessageBody := { Field }, ended by the opener's closer ("}" or ">"), or EOF at top level
  private parseBody(open: Token | null): MessageNode {
    const closer = open === null ? null : open.text === '{' ? '}' : '>';
    const fields: FieldEntry[] = [];
    while (!this.tooMany) {
      const t = this.peek();
      if (t.kind === 'eof') {
        if (open) this.error(`unexpected end of file: '${open.text}' opened on line ${this.lineOf(open)} is never closed with '${closer}'`, open.start, open.end);
        break;
      }
      if (this.sym(t, '}') || this.sym(t, '>')) {
        this.next();
        if (closer === null) {
          this.error(`unexpected '${t.text}': no message is open here`, t.start, t.end);
          continue;
        }
        if (t.text !== closer) this.error(`expected '${closer}' to close the message opened on line ${this.lineOf(open!)}, got '${t.text}'`, t.start, t.end);
        break;
      }
      const before = this.i;
      const entry = this.parseField();
      if (entry) fields.push(entry);
      if (this.i === before) this.next();
    }
    return { kind: 'message', fields, span: open ? this.src.span(open.start, open.end) : undefined };
  }

  // Field := Ident ( ":" ( Scalar | List | MessageValue ) | MessageValue | List ) [ ";" | "," ]
  private parseField(): FieldEntry | undefined {
    const nameTok = this.peek();
    if (nameTok.kind !== 'ident') {
      if (this.sym(nameTok, '[')) this.error('extension and Any fields ([...]) are not part of nsjail\'s config', nameTok.start, nameTok.end);
      else this.error(`expected a field name, got ${this.describe(nameTok)}`, nameTok.start, nameTok.end);
      this.recover();
      return undefined;
    }
    this.next();
    let colon = false;
    if (this.sym(this.peek(), ':')) {
      this.next();
      colon = true;
    }
    const t = this.peek();
    let values: ValueNode[];
    let list = false;
    if (this.sym(t, '{') || this.sym(t, '<')) {
      values = [this.parseMessageValue()];
    } else if (this.sym(t, '[')) {
      list = true;
      values = this.parseList();
    } else if (!colon) {
      this.error(`expected ':' or '{' after field name '${nameTok.text}', got ${this.describe(t)}`, t.start, t.end);
      this.recover();
      return undefined;
    } else {
      const v = this.parseScalar();
      if (!v) {
        this.recover();
        return undefined;
      }
      values = [v];
    }
    const end = this.prev.end;
    const sep = this.peek();
    if (this.sym(sep, ';') || this.sym(sep, ',')) this.next();
    return {
      name: nameTok.text,
      nameSpan: this.src.span(nameTok.start, nameTok.end),
      span: this.src.span(nameTok.start, end),
      values,
      list,
      colon,
    };
  }

  // MessageValue := "{" MessageBody "}" | "<" MessageBody ">"
  private parseMessageValue(): MessageNode {
    return this.parseBody(this.next());
  }

  // List := "[" [ ( MessageValue | Scalar ) { "," ( MessageValue | Scalar ) } ] "]"
  private parseList(): ValueNode[] {
    const open = this.next();
    const items: ValueNode[] = [];
    if (this.sym(this.peek(), ']')) {
      this.next();
      return items;
    }
    while (!this.tooMany) {
      const t = this.peek();
      if (this.sym(t, '{') || this.sym(t, '<')) items.push(this.parseMessageValue());
      else {
        const v = this.parseScalar();
        if (!v) break;
        items.push(v);
      }
      const sep = this.peek();
      if (this.sym(sep, ',')) {
        this.next();
        continue;
      }
      if (this.sym(sep, ']')) {
        this.next();
        return items;
      }
      this.error(`expected ',' or ']' in the list opened on line ${this.lineOf(open)}, got ${this.describe(sep)}`, sep.start, sep.end);
      break;
    }
    this.recoverList();
    return items;
  }

  // Scalar := String { String } | [ "-" ] ( Int | Float | "inf" | "nan" ) | Ident
  private parseScalar(): TextScalar | undefined {
    const t = this.peek();
    if (t.kind === 'string') {
      const bytes: number[] = [];
      let last = t;
      while (this.peek().kind === 'string') {
        last = this.next();
        bytes.push(...last.bytes!);
      }
      const u8 = Uint8Array.from(bytes);
      return { kind: 'text', token: 'string', text: Buffer.from(u8).toString('utf8'), bytes: u8, span: this.src.span(t.start, last.end) };
    }
    if (this.sym(t, '-')) {
      this.next();
      const u = this.peek();
      const special = u.kind === 'ident' && /^(inf|infinity|nan)$/i.test(u.text);
      if (u.kind === 'int' || u.kind === 'float' || special) {
        this.next();
        return { kind: 'text', token: u.kind === 'int' ? 'int' : 'float', text: '-' + u.text, span: this.src.span(t.start, u.end) };
      }
      this.error(`expected a number after '-', got ${this.describe(u)}`, u.start, u.end);
      return undefined;
    }
    if (t.kind === 'int' || t.kind === 'float' || t.kind === 'ident') {
      this.next();
      return { kind: 'text', token: t.kind, text: t.text, span: this.src.span(t.start, t.end) };
    }
    this.error(`expected a value, got ${this.describe(t)}`, t.start, t.end);
    return undefined;
  }

  /**
   * After an error: skip to where a field plausibly starts (a name followed by ':', '{' or '<'),
   * or to the end of the enclosing message, stepping over bracketed groups.
   */
  private recover(): void {
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return;
      if (depth === 0) {
        if (this.sym(t, '}') || this.sym(t, '>')) return;
        const n = this.peek(1);
        if (t.kind === 'ident' && (this.sym(n, ':') || this.sym(n, '{') || this.sym(n, '<'))) return;
      }
      if (this.sym(t, '{') || this.sym(t, '[') || this.sym(t, '<')) depth++;
      else if ((this.sym(t, '}') || this.sym(t, ']') || this.sym(t, '>')) && depth > 0) depth--;
      this.next();
    }
  }

  /** After an error inside a list: skip past its ']' (or stop at the end of the message). */
  private recoverList(): void {
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return;
      if (depth === 0 && (this.sym(t, '}') || this.sym(t, '>'))) return;
      this.next();
      if (this.sym(t, '{') || this.sym(t, '<') || this.sym(t, '[')) depth++;
      else if (this.sym(t, '}') || this.sym(t, '>')) depth--;
      else if (this.sym(t, ']')) {
        if (depth === 0) return;
        depth--;
      }
    }
  }
}

/** Parses text-proto syntax into a MessageNode; syntax errors are appended to `errors`. */
export function parseTextSyntax(src: SourceText, errors: JailError[]): MessageNode {
  const report: Report = (message, start, end) => {
    if (errors.length < MAX_ERRORS) errors.push(new JailError('config', message, { span: src.span(start, end) }));
  };
  const parser = new Parser(lex(src.text, report), src, errors);
  return parser.parseFile();
}
