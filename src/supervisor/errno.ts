/** errno numbers -> names and sentences, from Node's own table (libuv's). */
import * as util from 'node:util';

let table: Map<number, [string, string]> | undefined;

export function errnoName(errno: number): string {
  table ??= util.getSystemErrorMap();
  return table.get(-errno)?.[0] ?? `errno ${errno}`;
}

export function errnoText(errno: number): string {
  table ??= util.getSystemErrorMap();
  const row = table.get(-errno);
  return row ? `${row[0]} (${row[1]})` : `errno ${errno}`;
}
