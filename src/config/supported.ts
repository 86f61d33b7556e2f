/**
 * "Not supported yet": a field jail recognises but does not implement stops the launch instead
 * of being silently ignored. A field counts as used when it was set explicitly and its value
 * differs from the default (so `cgroup_mem_max: 0` or `mode: ONCE` pass).
 */
import { isDeepStrictEqual } from 'util';
import { JailError } from '../errors';
import { MESSAGES, NSJAIL_CONFIG, type FieldDef, type MessageDef } from './schema';
import type { LoadedConfig } from './types';

function isDefault(f: FieldDef, value: unknown): boolean {
  if (f.repeated) return (value as unknown[]).length === 0;
  if (f.type === 'message') return value === undefined;
  return isDeepStrictEqual(value, f.default);
}

function report(loaded: LoadedConfig, key: string, what: string, flagWhat: (flag: string) => string): JailError {
  const flag = loaded.flags?.get(key);
  if (flag) return new JailError('flag', `flag ${flagWhat(flag)} is not supported yet`);
  return new JailError('config', `${what} is not supported yet`, { span: loaded.spans.get(key) });
}

function walk(def: MessageDef, obj: Record<string, unknown>, prefix: string, loaded: LoadedConfig, out: JailError[]): void {
  for (const f of def.fields) {
    const key = prefix + f.name;
    const value = obj[f.json];
    if (!loaded.setFields.has(key)) continue;
    if (!f.supported && !isDefault(f, value)) {
      out.push(report(loaded, key, `field '${key}'`, (flag) => flag));
      continue;
    }
    if (f.unsupportedValues?.includes(value as string)) {
      out.push(report(loaded, key, `field '${key}' value ${value}`, (flag) => `${flag} (${value})`));
    }
    if (f.type !== 'message' || value === undefined) continue;
    const sub = f.message!();
    if (f.repeated) (value as Record<string, unknown>[]).forEach((v, i) => walk(sub, v, `${key}.${i}.`, loaded, out));
    else walk(sub, value as Record<string, unknown>, `${key}.`, loaded, out);
  }
}

/** Every use of a not-yet-implemented field, one error each (repeats of one flag merged). */
export function unsupportedUses(loaded: LoadedConfig): JailError[] {
  const out: JailError[] = [];
  walk(NSJAIL_CONFIG, loaded.config as unknown as Record<string, unknown>, '', loaded, out);
  const seen = new Set<string>();
  return out.filter((e) => !seen.has(e.message) && seen.add(e.message) !== undefined);
}

/** Throws one JailError listing every used field that jail does not implement yet. */
export function assertSupported(loaded: LoadedConfig): void {
  JailError.throwAll(unsupportedUses(loaded));
}

/** Test hook: which field names (message.field) and enum values are implemented. */
export function supportStatus(): { supported: string[]; unsupported: string[] } {
  const supported: string[] = [];
  const unsupported: string[] = [];
  for (const m of MESSAGES) {
    for (const f of m.fields) {
      (f.supported ? supported : unsupported).push(`${m.name}.${f.name}`);
      for (const v of f.unsupportedValues ?? []) unsupported.push(`${m.name}.${f.name}=${v}`);
    }
  }
  return { supported, unsupported };
}
