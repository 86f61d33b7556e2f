/**
 * Protobuf scalar rules shared by every front end (text, JSON, objects, flags): integer ranges
 * per type, C-style integer literals, and how a received value is quoted in messages.
 */

export type IntType = 'int32' | 'uint32' | 'int64' | 'uint64';

const RANGES: Record<IntType, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Checks `v` against the protobuf type's range and against what a JS number holds exactly
 * (Config keeps integers as numbers; values past 2^53 would silently round, so they are refused).
 * Returns the number, or an error message.
 */
export function checkInt(type: IntType, v: bigint): number | string {
  const [lo, hi] = RANGES[type];
  if (v < lo || v > hi) {
    if (v < 0n && lo === 0n) return `${v} is out of range: ${type} cannot be negative`;
    return `${v} is out of range for ${type} (${lo}..${hi})`;
  }
  if (v > MAX_SAFE || v < -MAX_SAFE) {
    return `${v} is too large: values beyond 2^53 (${MAX_SAFE}) are not supported`;
  }
  return Number(v);
}

/**
 * An integer literal as C's strtoll(s, NULL, 0) reads it, but strict (the whole string):
 * `0x1f` hex, `017` octal, `17` decimal, optional leading '-' or '+'. Undefined if malformed.
 */
export function parseCInt(text: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const body = m[2];
  let v: bigint;
  if (/^0[xX]/.test(body)) v = BigInt(body);
  else if (body.length > 1 && body[0] === '0') v = BigInt('0o' + body.slice(1));
  else v = BigInt(body);
  return m[1] === '-' ? -v : v;
}

/** A received value quoted for an error message, shortened when long. */
export function quoteValue(s: string): string {
  const short = s.length > 60 ? s.slice(0, 57) + '...' : s;
  return JSON.stringify(short);
}
