/**
 * The ProtoJSON form of a config (`{"timeLimit": 3, "mount": [{"isBind": true, ...}]}`).
 * JSON.parse gives no positions, so this is a small reader that records where every key and
 * value is, for errors that point at the line. It reports the first syntax error (JSON has no
 * useful way to resynchronise); schema errors are then collected by build.ts like any other.
 */
import { JailError } from '../errors';
import type { FieldEntry, JsonScalar, MessageNode, ValueNode } from './ast';
import type { SourceText } from './source';

type JValue =
  | { type: 'object'; members: Member[]; start: number; end: number }
  | { type: 'array'; items: JValue[]; start: number; end: number }
  | { type: 'string' | 'number' | 'bool' | 'null'; text: string; start: number; end: number };

interface Member {
  key: string;
  keyStart: number;
  keyEnd: number;
  value: JValue;
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class JsonReader {
  private i = 0;

  constructor(private readonly src: SourceText) {}

  private get text(): string {
    return this.src.text;
  }

  private fail(message: string, start: number, end = start + 1): never {
    throw new JailError('config', message, { span: this.src.span(start, end) });
  }

  private ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i])) this.i++;
  }

  private found(): string {
    if (this.i >= this.text.length) return 'end of file';
    const ch = this.text.codePointAt(this.i)!;
    return `'${String.fromCodePoint(ch)}'`;
  }

  // Document := Value EOF
  document(): JValue {
    const v = this.value();
    this.ws();
    if (this.i < this.text.length) this.fail(`unexpected ${this.found()} after the end of the JSON document`, this.i);
    return v;
  }

  // Value := Object | Array | String | Number | "true" | "false" | "null"
  private value(): JValue {
    this.ws();
    const start = this.i;
    const c = this.text[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') {
      const text = this.string();
      return { type: 'string', text, start, end: this.i };
    }
    for (const [word, type] of [['true', 'bool'], ['false', 'bool'], ['null', 'null']] as const) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return { type, text: word, start, end: this.i };
      }
    }
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.text);
    if (m && m[0] !== '-') {
      this.i += m[0].length;
      return { type: 'number', text: m[0], start, end: this.i };
    }
    return this.fail(`expected a JSON value, got ${this.found()}`, start);
  }

  // Object := "{" [ String ":" Value { "," String ":" Value } ] "}"
  private object(): JValue {
    const start = this.i++;
    const members: Member[] = [];
    this.ws();
    if (this.text[this.i] === '}') {
      this.i++;
      return { type: 'object', members, start, end: this.i };
    }
    for (;;) {
      this.ws();
      if (this.text[this.i] !== '"') this.fail(`expected a "key" in the object, got ${this.found()}`, this.i);
      const keyStart = this.i;
      const key = this.string();
      const keyEnd = this.i;
      this.ws();
      if (this.text[this.i] !== ':') this.fail(`expected ':' after "${key}", got ${this.found()}`, this.i);
      this.i++;
      members.push({ key, keyStart, keyEnd, value: this.value() });
      this.ws();
      const c = this.text[this.i];
      this.i++;
      if (c === '}') return { type: 'object', members, start, end: this.i };
      if (c !== ',') this.fail(`expected ',' or '}' in the object, got ${c === undefined ? 'end of file' : `'${c}'`}`, this.i - 1);
    }
  }

  // Array := "[" [ Value { "," Value } ] "]"
  private array(): JValue {
    const start = this.i++;
    const items: JValue[] = [];
    this.ws();
    if (this.text[this.i] === ']') {
      this.i++;
      return { type: 'array', items, start, end: this.i };
    }
    for (;;) {
      items.push(this.value());
      this.ws();
      const c = this.text[this.i];
      this.i++;
      if (c === ']') return { type: 'array', items, start, end: this.i };
      if (c !== ',') this.fail(`expected ',' or ']' in the array, got ${c === undefined ? 'end of file' : `'${c}'`}`, this.i - 1);
    }
  }

  // String := '"' { Char | "\" ( ["\\/bfnrt] | "u" Hex{4} ) } '"'
  private string(): string {
    const start = this.i++;
    let out = '';
    for (;;) {
      const c = this.text[this.i];
      if (c === undefined || c === '\n') this.fail('unterminated string', start, this.i);
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c < ' ') this.fail('control characters must be escaped in JSON strings', this.i);
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = this.text[this.i + 1];
      if (e in ESCAPES) {
        out += ESCAPES[e];
        this.i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 2, this.i + 6))) {
        out += String.fromCharCode(parseInt(this.text.slice(this.i + 2, this.i + 6), 16));
        this.i += 6;
      } else {
        this.fail(`invalid escape \\${e ?? ''} in JSON string`, this.i, this.i + 2);
      }
    }
  }
}

function toEntry(m: Member, src: SourceText): FieldEntry {
  const v = m.value;
  return {
    name: m.key,
    nameSpan: src.span(m.keyStart, m.keyEnd),
    span: src.span(m.keyStart, v.end),
    values: v.type === 'null' ? [] : v.type === 'array' ? v.items.map((x) => toNode(x, src)) : [toNode(v, src)],
    list: v.type === 'array',
    colon: true,
  };
}

function toNode(v: JValue, src: SourceText): ValueNode {
  if (v.type === 'object') return toMessage(v, src);
  const span = src.span(v.start, v.end);
  const scalar: JsonScalar = { kind: 'json', type: v.type, text: v.type === 'array' ? '[...]' : v.text, span };
  return scalar;
}

function toMessage(v: JValue & { type: 'object' }, src: SourceText): MessageNode {
  return { kind: 'message', fields: v.members.map((m) => toEntry(m, src)), span: src.span(v.start) };
}

/** Parses ProtoJSON syntax into a MessageNode; throws JailError('config') on a syntax error. */
export function parseJsonSyntax(src: SourceText): MessageNode {
  const doc = new JsonReader(src).document();
  if (doc.type !== 'object') {
    throw new JailError('config', 'a JSON config must be an object { ... }', { span: src.span(doc.start, doc.end) });
  }
  return toMessage(doc, src);
}
