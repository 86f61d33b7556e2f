/**
 * Plain JavaScript config objects (library callers: `run({ config: { time_limit: 3 } })`) as
 * field trees for build.ts. Keys may be snake_case or camelCase; `undefined` means "not set".
 */
import type { FieldEntry, MessageNode, ValueNode } from './ast';

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function toNode(v: unknown): ValueNode {
  return isPlainObject(v) ? objectToNode(v) : { kind: 'js', value: v };
}

export function objectToNode(obj: Record<string, unknown>): MessageNode {
  const fields: FieldEntry[] = [];
  for (const [name, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const list = Array.isArray(v);
    const values = v === null ? [] : list ? v.map(toNode) : [toNode(v)];
    fields.push({ name, values, list, colon: true });
  }
  return { kind: 'message', fields };
}
