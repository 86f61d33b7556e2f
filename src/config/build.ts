/**
 * Applies the schema to a field tree from any front end (text proto, JSON, object): resolves
 * names, checks types, ranges, duplicates and required fields, fills defaults, and records
 * where each value came from. Every problem is collected; nothing is thrown.
 */
import { isUtf8 } from 'buffer';
import { JailError, type SourceSpan } from '../errors';
import type { Dialect, FieldEntry, MessageNode, ValueNode } from './ast';
import { checkInt, parseCInt, quoteValue, type IntType } from './scalars';
import { defaultsOf, type FieldDef, type MessageDef } from './schema';
import { nearest } from './suggest';
import type { SpanMap } from './types';

export interface BuildContext {
  dialect: Dialect;
  errors: JailError[];
  spans: SpanMap;
  set: Set<string>;
  /** Prefix of object-dialect messages ("run() config"), which have no file position. */
  origin?: string;
}

/** A field path: names and list indexes, e.g. ['mount', 2, 'is_bind']. */
export type Path = ReadonlyArray<string | number>;

/** The SpanMap / setFields key of a path: "mount.2.is_bind". */
const pathKey = (path: Path): string => path.join('.');

/** How a path reads in messages: "mount[2].is_bind". */
function displayPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** displayPath of a SpanMap key: "mount.2.src" -> "mount[2].src". */
export const displayKey = (key: string): string => displayPath(key.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)));

function fail(ctx: BuildContext, path: Path, message: string, span?: SourceSpan): undefined {
  const where = [ctx.origin, path.length ? displayPath(path) : undefined].filter(Boolean).join(': ');
  ctx.errors.push(new JailError('config', where ? `${where}: ${message}` : message, { span }));
  return undefined;
}

function spanOf(v: ValueNode): SourceSpan | undefined {
  return v.kind === 'js' ? undefined : v.span;
}

/** A received value as the error message shows it. */
function describe(v: ValueNode): string {
  switch (v.kind) {
    case 'message':
      return 'a message { ... }';
    case 'text':
      return v.token === 'string' ? quoteValue(v.text) : v.text;
    case 'json':
      return v.type === 'string' ? quoteValue(v.text) : v.type === 'array' ? 'a list [...]' : v.text;
    case 'js': {
      const x = v.value;
      if (typeof x === 'string') return quoteValue(x);
      if (Array.isArray(x)) return 'an array';
      if (x instanceof Uint8Array) return 'bytes';
      if (typeof x === 'object' && x !== null) return 'an object';
      if (typeof x === 'function') return 'a function';
      return String(x);
    }
  }
}

function typeName(f: FieldDef): string {
  if (f.type === 'enum') return `one of ${f.enum!.values.join(', ')}`;
  if (f.type === 'bool') return 'bool (true or false)';
  return f.type;
}

const BOOL_WORDS: Record<string, boolean> = { true: true, True: true, t: true, false: false, False: false, f: false };

function toBool(v: ValueNode): boolean | undefined {
  if (v.kind === 'text') {
    if (v.token === 'ident' && v.text in BOOL_WORDS) return BOOL_WORDS[v.text];
    if (v.token === 'int') {
      const n = parseCInt(v.text);
      if (n === 0n || n === 1n) return n === 1n;
    }
  } else if (v.kind === 'json' && v.type === 'bool') return v.text === 'true';
  else if (v.kind === 'js' && typeof v.value === 'boolean') return v.value;
  return undefined;
}

/** An integral JSON number or numeric string; ProtoJSON allows both, and 1e3 / 3.0 forms. */
function jsonInt(text: string): bigint | undefined {
  if (/^-?\d+$/.test(text)) return BigInt(text);
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? BigInt(n) : undefined;
}

function toBigInt(v: ValueNode): bigint | undefined {
  if (v.kind === 'text') return v.token === 'int' ? parseCInt(v.text) : undefined;
  if (v.kind === 'json') return v.type === 'number' || v.type === 'string' ? jsonInt(v.text) : undefined;
  if (v.kind === 'js') {
    const x = v.value;
    if (typeof x === 'bigint') return x;
    if (typeof x === 'number' && Number.isInteger(x)) return BigInt(x);
    if (typeof x === 'string' && /^-?\d+$/.test(x)) return BigInt(x);
  }
  return undefined;
}

function toEnum(f: FieldDef, v: ValueNode, path: Path, ctx: BuildContext): string | undefined {
  const values = f.enum!.values;
  let name: string | undefined;
  let num: bigint | undefined;
  if (v.kind === 'text') {
    if (v.token === 'ident') name = v.text;
    else if (v.token === 'int') num = parseCInt(v.text);
  } else if (v.kind === 'json') {
    if (v.type === 'string') name = v.text;
    else if (v.type === 'number') num = jsonInt(v.text);
  } else if (v.kind === 'js') {
    if (typeof v.value === 'string') name = v.value;
    else if (typeof v.value === 'number' && Number.isInteger(v.value)) num = BigInt(v.value);
  }
  if (name !== undefined && values.includes(name)) return name;
  if (num !== undefined && num >= 0n && num < BigInt(values.length)) return values[Number(num)];
  const guess = name === undefined ? undefined : nearest(name, values);
  const accepted = `expected one of ${values.join(', ')} (or 0..${values.length - 1})`;
  return fail(ctx, path, `unknown ${f.enum!.name} value ${describe(v)}${guess ? ` (did you mean ${guess}?)` : ''}; ${accepted}`, spanOf(v));
}

function toStr(v: ValueNode): string | undefined | Error {
  let s: string;
  if (v.kind === 'text' && v.token === 'string') {
    if (!isUtf8(v.bytes!)) return new Error('is not valid UTF-8 text (escapes such as \\xff belong in bytes fields like src_content)');
    s = v.text;
  } else if (v.kind === 'json' && v.type === 'string') s = v.text;
  else if (v.kind === 'js' && typeof v.value === 'string') s = v.value;
  else return undefined;
  return nulProblem(s) ?? s;
}

/** Text fields end up as C strings (paths, argv, hostname, ...), which end at the first NUL. */
function nulProblem(s: string): Error | undefined {
  const at = s.indexOf('\0');
  if (at < 0) return undefined;
  return new Error(
    `${quoteValue(s)} contains a NUL byte at offset ${at}; text fields are passed to the kernel as C strings, ` +
      'which end at the first NUL: remove it (file content with NUL bytes belongs in src_content)',
  );
}

function toBytes(v: ValueNode): Uint8Array | undefined | Error {
  if (v.kind === 'text' && v.token === 'string') return v.bytes!;
  if (v.kind === 'json' && v.type === 'string') {
    // ProtoJSON writes bytes as base64 (standard or URL-safe alphabet, padding optional).
    const s = v.text;
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s) || s.replace(/=+$/, '').length % 4 === 1) {
      return new Error(`is not valid base64 (ProtoJSON encodes bytes fields as base64), got ${quoteValue(s)}`);
    }
    return new Uint8Array(Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
  }
  if (v.kind === 'js') {
    // Library callers write file contents as text; raw bytes are accepted too.
    if (typeof v.value === 'string') return new Uint8Array(Buffer.from(v.value, 'utf8'));
    if (v.value instanceof Uint8Array) return new Uint8Array(v.value);
  }
  return undefined;
}

function convert(f: FieldDef, v: ValueNode, path: Path, ctx: BuildContext): unknown {
  if (f.type === 'message') {
    if (v.kind !== 'message') return fail(ctx, path, `expected a message { ... }, got ${describe(v)}`, spanOf(v));
    return buildMessage(f.message!(), v, path, ctx);
  }
  // A malformed number (09, 0x) was already reported where it was read.
  if (v.kind === 'text' && v.token === 'int' && parseCInt(v.text) === undefined) return undefined;
  const got = () => fail(ctx, path, `expected ${typeName(f)}, got ${describe(v)}${hintFor(f, v)}`, spanOf(v));
  if (v.kind === 'message') return got();
  let out: unknown;
  switch (f.type) {
    case 'bool':
      out = toBool(v);
      if (out === undefined) return got();
      break;
    case 'int32':
    case 'uint32':
    case 'int64':
    case 'uint64': {
      const big = toBigInt(v);
      if (big === undefined) return got();
      out = checkInt(f.type as IntType, big);
      if (typeof out === 'string') return fail(ctx, path, out, spanOf(v));
      break;
    }
    case 'enum':
      out = toEnum(f, v, path, ctx);
      if (out === undefined) return undefined;
      break;
    case 'string':
    case 'bytes':
      out = f.type === 'string' ? toStr(v) : toBytes(v);
      if (out === undefined) return got();
      if (out instanceof Error) return fail(ctx, path, out.message, spanOf(v));
      break;
  }
  const problem = f.check?.(out);
  return problem ? fail(ctx, path, problem, spanOf(v)) : out;
}

function hintFor(f: FieldDef, v: ValueNode): string {
  if ((f.type === 'string' || f.type === 'bytes') && v.kind === 'text' && v.token !== 'string') return ' (text must be in quotes)';
  return '';
}

function resolve(def: MessageDef, entry: FieldEntry, path: Path, ctx: BuildContext): FieldDef | undefined {
  let f = def.byName(entry.name);
  if (!f && ctx.dialect !== 'text') f = def.byJson(entry.name);
  if (f && (!f.outside || ctx.dialect === 'object')) return f;
  const known = def.fields.filter((x) => !x.outside || ctx.dialect === 'object');
  const names = known.map((x) => (ctx.dialect !== 'text' && !entry.name.includes('_') ? x.json : x.name));
  const guess = f ? undefined : nearest(entry.name, names);
  const hint = f ? `'${f.name}' is a command-line setting (${f.flags[0].flags.replace(/ <.*/, '')}), not part of the config format` : undefined;
  const where = [ctx.origin, path.length ? displayPath(path) : undefined].filter(Boolean).join(': ');
  const message = `${where ? where + ': ' : ''}${def.name} has no field named "${entry.name}"${guess ? ` (did you mean '${guess}'?)` : ''}`;
  ctx.errors.push(new JailError('config', message, { span: entry.nameSpan, hint }));
  return undefined;
}

/** Builds one message: defaults, then every entry of `node` converted and checked. */
export function buildMessage(def: MessageDef, node: MessageNode, path: Path, ctx: BuildContext): Record<string, unknown> {
  const out = defaultsOf(def);
  const seen = new Map<FieldDef, FieldEntry>();
  for (const entry of node.fields) {
    const f = resolve(def, entry, path, ctx);
    if (!f) continue;
    const fpath = [...path, f.name];
    const prev = seen.get(f);
    // Text format repeats a repeated field to add elements; JSON and objects give one list.
    if (prev && (!f.repeated || ctx.dialect !== 'text')) {
      const first = prev.nameSpan ? ` (first set on line ${prev.nameSpan.line})` : '';
      fail(ctx, fpath, `set more than once${first}; it is not a repeated field`, entry.nameSpan);
      continue;
    }
    seen.set(f, entry);
    if (!f.repeated && entry.list) {
      fail(ctx, fpath, `is not a repeated field, so it cannot take a list [...]`, entry.span);
      continue;
    }
    // JSON and objects write a repeated field as one list; text repeats the field instead.
    if (f.repeated && !entry.list && ctx.dialect !== 'text' && entry.values.length > 0) {
      fail(ctx, fpath, `is a repeated field: expected a list [...], got ${describe(entry.values[0])}`, entry.span);
      continue;
    }
    if (ctx.dialect === 'text' && !entry.colon && f.type !== 'message' && entry.values.every((v) => v.kind !== 'message')) {
      fail(ctx, fpath, `expected ':' between the field name and its value`, entry.nameSpan);
    }
    const key = pathKey(fpath);
    if (f.repeated) {
      const list = out[f.json] as unknown[];
      if (!ctx.spans.has(key) && entry.nameSpan) ctx.spans.set(key, entry.nameSpan);
      ctx.set.add(key);
      for (const v of entry.values) {
        const ipath = [...fpath, list.length];
        const value = convert(f, v, ipath, ctx);
        if (value === undefined) continue;
        const span = entry.list ? spanOf(v) : entry.span;
        if (span) ctx.spans.set(pathKey(ipath), span);
        ctx.set.add(pathKey(ipath));
        list.push(value);
      }
    } else if (entry.values.length > 0) {
      const value = convert(f, entry.values[0], fpath, ctx);
      if (value === undefined) continue;
      out[f.json] = value;
      ctx.set.add(key);
      if (entry.span) ctx.spans.set(key, entry.span);
    }
  }
  for (const f of def.fields) {
    if (f.required && !seen.has(f)) fail(ctx, path, `missing required field '${f.name}'`, node.span);
  }
  return out;
}
