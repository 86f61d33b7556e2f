/**
 * nsjail's command-line value syntaxes: `-u inside[:outside[:count]]`, `-B src[:dst[:opts]]`,
 * `-m src:dst:fstype:opts`, rlimit words, `-M l|o|e|r`, sizes and CPU counts. Each parser
 * returns the value (message-typed ones a partial message that the flag stage completes with
 * the schema's defaults) or throws BadFlagValue saying what is accepted.
 */
import type { IdMap, Mode, MountPt, RLimitType } from './types';
import { CAPABILITY_NAMES, capabilityNumber } from './caps';
import { nearest } from './suggest';
import { checkInt, parseCInt, type IntType } from './scalars';
import { parseSize } from './size';
import { JailError } from '../errors';

/** A flag's value is malformed; the message says what is accepted ("expected ..."). */
export class BadFlagValue extends Error {}

export function parseFlagInt(type: IntType, arg: string, what: string): number {
  const v = parseCInt(arg.trim());
  if (v === undefined) throw new BadFlagValue(`expected ${what}`);
  const n = checkInt(type, v);
  if (typeof n === 'string') throw new BadFlagValue(`${n}; expected ${what}`);
  return n;
}

const MODES: Record<string, Mode> = { l: 'LISTEN', o: 'ONCE', e: 'EXECVE', r: 'RERUN' };

/** `-M`: only the first character counts, as in nsjail (`-M once` is ONCE). */
export function parseModeChar(arg: string): Mode {
  const mode = MODES[arg.charAt(0)];
  if (!mode) throw new BadFlagValue('expected l (listen), o (once), e (execve) or r (rerun)');
  return mode;
}

/**
 * `-u/-g inside[:outside[:count]]` and `-U/-G inside:outside:count`. Empty ids mean the
 * caller's id; names stay names here and are resolved against /etc/passwd or /etc/group when
 * the config is finished. A missing or zero count means 1, as in nsjail.
 */
export function parseIdMapSpec(arg: string, useNewidmap: boolean): Partial<IdMap> {
  const parts = arg.split(':');
  const syntax = useNewidmap ? 'inside:outside:count' : 'inside[:outside[:count]]';
  if (parts.length > 3 || arg === '') throw new BadFlagValue(`expected ${syntax}`);
  const [insideId, outsideId = '', countText = ''] = parts;
  for (const id of [insideId, outsideId]) {
    if (!/^[A-Za-z0-9_.-]*\$?$/.test(id)) throw new BadFlagValue(`expected ${syntax} with numeric ids or names`);
  }
  let count = 1;
  if (countText !== '') {
    count = parseFlagInt('uint32', countText, `${syntax} with a whole-number count`);
    if (count < 1) count = 1;
  }
  return { insideId, outsideId, count, useNewidmap };
}

/** `-R src[:dst]` (read-only) and `-B src[:dst[:options]]` (read-write) bind mounts. */
export function parseBindSpec(arg: string, rw: boolean): Partial<MountPt> {
  const parts = arg.split(':');
  const syntax = rw ? 'src[:dst[:options]]' : 'src[:dst]';
  if (parts[0] === '' || (!rw && parts.length > 2)) throw new BadFlagValue(`expected ${syntax}`);
  const src = parts[0];
  const dst = parts[1] || src;
  const options = parts.slice(2).join(':');
  return { src, dst, isBind: true, rw, ...(options ? { options } : {}) };
}

/** `-T dst`: a 4 MiB read-write tmpfs, nsjail's exact choice. */
export function parseTmpfsSpec(arg: string): Partial<MountPt> {
  if (arg === '') throw new BadFlagValue('expected a directory inside the jail');
  return { dst: arg, fstype: 'tmpfs', options: 'size=4194304', rw: true, isDir: true };
}

/** `-m src:dst:fstype:options`; options may themselves contain ':'. An empty dst means src. */
export function parseMountSpec(arg: string): Partial<MountPt> {
  const parts = arg.split(':');
  if (parts.length < 3 || (parts[0] === '' && parts[1] === '')) {
    throw new BadFlagValue('expected src:dst:fstype[:options], e.g. none:/tmp:tmpfs:size=8388608');
  }
  const src = parts[0];
  return { src, dst: parts[1] || src, fstype: parts[2], options: parts.slice(3).join(':'), rw: true };
}

/** `-s target:linkpath`: a symlink at linkpath (inside the jail) pointing to target. */
export function parseSymlinkSpec(arg: string): Partial<MountPt> {
  const i = arg.indexOf(':');
  if (i <= 0 || i === arg.length - 1) throw new BadFlagValue('expected target:linkpath');
  return { src: arg.slice(0, i), dst: arg.slice(i + 1), isSymlink: true };
}

/** `-E VAR=value` or `-E VAR` (copy the caller's VAR when the jail starts). */
export function parseEnvSpec(arg: string): string {
  const name = arg.split('=')[0];
  if (!/^[^=\0]+$/.test(name) || arg.includes('\0')) throw new BadFlagValue('expected VAR=value or VAR');
  return arg;
}

/** `--cap CAP_NAME`: must be a capability this kernel interface knows. */
export function parseCapName(arg: string): string {
  if (capabilityNumber(arg) !== undefined) return arg;
  throw new BadFlagValue(capabilityHelp(arg));
}

/** "unknown capability X (did you mean Y?); valid names: ..." for flags and config files. */
function capabilityHelp(name: string): string {
  const guess = nearest(name, CAPABILITY_NAMES);
  return (
    `unknown capability${guess ? ` (did you mean '${guess}'?)` : ''}; ` +
    `expected one of ${CAPABILITY_NAMES.join(', ')}`
  );
}

/** One of a fixed set of words, e.g. `--macvlan_vs_mo private`. */
export function parseChoice(arg: string, choices: readonly string[]): string {
  if (choices.includes(arg)) return arg;
  throw new BadFlagValue(`expected one of ${choices.join(', ')}`);
}

export interface RLimitValue {
  type: RLimitType;
  /** Set only for type VALUE, in the field's unit. */
  value?: number;
}

/**
 * An rlimit flag: `inf`, `soft`/`def` (the caller's soft limit), `hard`/`max` (hard limit), or a
 * number in the field's unit (`unitBytes` > 0 for byte-valued limits, which also accept sizes
 * such as `8G`, converted to the unit and required to be an exact multiple of it).
 */
export function parseRLimit(arg: string, unit: string, unitBytes: number): RLimitValue {
  const word = arg.trim().toLowerCase();
  if (word === 'inf') return { type: 'INF' };
  if (word === 'soft' || word === 'def') return { type: 'SOFT' };
  if (word === 'hard' || word === 'max') return { type: 'HARD' };
  const accepted = `a number${unit ? ` of ${unit}` : ''}${unitBytes > 0 ? ' or a size like 512M' : ''}, or soft|hard|inf|def|max`;
  const n = parseCInt(word);
  if (n !== undefined && n >= 0n) {
    const v = checkInt('uint64', n);
    if (typeof v === 'string') throw new BadFlagValue(`${v}; expected ${accepted}`);
    return { type: 'VALUE', value: v };
  }
  if (unitBytes > 0 && n === undefined && /^[0-9.]/.test(word)) {
    let bytes: number;
    try {
      bytes = parseSize(word);
    } catch (e) {
      if (e instanceof JailError) throw new BadFlagValue(`expected ${accepted}`);
      throw e;
    }
    if (bytes % unitBytes !== 0) throw new BadFlagValue(`${arg} is not a whole number of ${unit}; expected ${accepted}`);
    return { type: 'VALUE', value: bytes / unitBytes };
  }
  throw new BadFlagValue(`expected ${accepted}`);
}

/** A byte count: plain bytes or a size with a unit (`--cgroup_mem_max 1G`, `--memory 512M`). */
export function parseByteSize(arg: string): number {
  try {
    return parseSize(arg);
  } catch (e) {
    if (e instanceof JailError) throw new BadFlagValue(e.message.replace(/^invalid size '[^']*': /, ''));
    throw e;
  }
}

/** `--cgroup_mem_swap_max`: a size, or -1 for "no swap limit". */
export function parseSignedByteSize(arg: string): number {
  if (arg.trim() === '-1') return -1;
  return parseByteSize(arg);
}

/** `--cpus 0.5` (Docker's spelling) -> cgroup_cpu_ms_per_sec 500. */
export function parseCpus(arg: string): number {
  const cpus = /^\d+(\.\d+)?$|^\.\d+$/.test(arg.trim()) ? Number(arg) : NaN;
  const ms = Math.round(cpus * 1000);
  if (!(ms >= 1) || ms > 2 ** 32 - 1) throw new BadFlagValue('expected a number of CPUs such as 0.5, 1 or 2 (at least 0.001)');
  return ms;
}
