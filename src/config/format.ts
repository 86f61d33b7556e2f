/**
 * Canonical text-proto output of a Config: fields in schema order, defaults left out, two
 * spaces of indent. Parsing the output gives the same Config back (the round-trip tests check
 * this for every example). Command-line-only settings (--chroot, --rw, ...) have no place in
 * the format; when set they are listed in a leading comment.
 */
import { isDeepStrictEqual } from 'util';
import { defaultsOf, ID_MAP, NSJAIL_CONFIG, type FieldDef, type MessageDef } from './schema';
import type { Config, IdMap } from './types';

const ESC: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };

/** A string literal: UTF-8 text kept readable, control characters escaped. */
function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch in ESC) out += ESC[ch];
    else if (code < 0x20 || code === 0x7f) out += '\\' + code.toString(8).padStart(3, '0');
    else out += ch;
  }
  return out + '"';
}

/** A bytes literal: printable ASCII as is, every other byte as an octal escape. */
function quoteBytes(b: Uint8Array): string {
  let out = '"';
  for (const byte of b) {
    const ch = String.fromCharCode(byte);
    if (ch in ESC) out += ESC[ch];
    else if (byte < 0x20 || byte >= 0x7f) out += '\\' + byte.toString(8).padStart(3, '0');
    else out += ch;
  }
  return out + '"';
}

function literal(f: FieldDef, v: unknown): string {
  switch (f.type) {
    case 'string':
      return quoteString(v as string);
    case 'bytes':
      return quoteBytes(v as Uint8Array);
    default:
      return String(v);
  }
}

function emitMessage(def: MessageDef, obj: Record<string, unknown>, indent: string, out: string[]): void {
  for (const f of def.fields) {
    if (f.outside) continue;
    const v = obj[f.json];
    if (v === undefined) continue;
    const items = f.repeated ? (v as unknown[]) : [v];
    if (!f.repeated && f.type !== 'message' && isDeepStrictEqual(v, f.default)) continue;
    for (const item of items) {
      if (f.type === 'message') {
        out.push(`${indent}${f.name} {`);
        emitMessage(f.message!(), item as Record<string, unknown>, indent + '  ', out);
        out.push(`${indent}}`);
      } else {
        out.push(`${indent}${f.name}: ${literal(f, item)}`);
      }
    }
  }
}

/** The map finishConfig adds when none is given; written back it would only add noise. */
function isSynthesizedMap(maps: IdMap[]): boolean {
  return maps.length === 1 && isDeepStrictEqual({ ...maps[0] }, defaultsOf(ID_MAP));
}

/** The config as sandbox.cfg text. */
export function formatConfigText(config: Config): string {
  const out: string[] = [];
  const flags: string[] = [];
  for (const f of NSJAIL_CONFIG.fields) {
    const v = (config as unknown as Record<string, unknown>)[f.json];
    if (f.outside && v !== undefined && !isDeepStrictEqual(v, f.default)) {
      flags.push(f.flags[0].flags.replace(/^-\w, /, '').replace(/ <.*/, '') + (typeof v === 'string' ? ' ' + v : ''));
    }
  }
  if (flags.length) out.push(`# command-line settings, not part of the config format: ${flags.join(' ')}`);
  const obj: Record<string, unknown> = { ...config };
  if (isSynthesizedMap(config.uidmap)) obj.uidmap = [];
  if (isSynthesizedMap(config.gidmap)) obj.gidmap = [];
  emitMessage(NSJAIL_CONFIG, obj, '', out);
  return out.map((line) => line + '\n').join('');
}
