/**
 * errno numbers -> names and sentences. Names come from Node's os.constants.errno (every Linux
 * errno); sentences from libuv's table, which lacks some (ENOEXEC, ...), so those show the name.
 */
import * as os from 'node:os';
import * as util from 'node:util';

/** The errno numbers jail's messages talk about, from Node's table of this system's values. */
export const { EPERM, ENOENT, ENOEXEC, EACCES, EBUSY, EDQUOT, EEXIST, ENOTDIR, EINVAL, ENOSPC, EOPNOTSUPP, EROFS } = os.constants.errno;

let names: Map<number, string> | undefined;
let texts: Map<number, [string, string]> | undefined;

export function errnoName(errno: number): string {
  if (!names) {
    names = new Map();
    for (const [name, n] of Object.entries(os.constants.errno)) if (!names.has(n)) names.set(n, name);
  }
  return names.get(errno) ?? `errno ${errno}`;
}

export function errnoText(errno: number): string {
  texts ??= util.getSystemErrorMap();
  const sentence = texts.get(-errno)?.[1];
  return sentence ? `${errnoName(errno)} (${sentence})` : errnoName(errno);
}
