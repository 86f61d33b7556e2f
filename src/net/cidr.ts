/**
 * IP addresses and CIDR ranges as bytes, so the allow list, the blocklist and the proxy compare
 * addresses exactly instead of comparing text (`::1`, `0:0::1` and `::0.0.0.1` are one address).
 *
 * Parsing is strict on purpose: only dotted-quad IPv4 with four decimal parts and no leading
 * zeros (inet_aton would read `010.0.0.1` as octal 8.0.0.1 and `10.1` as 10.0.0.1, so a
 * lenient parser and the kernel could disagree about which host a rule names), and textual IPv6
 * without a zone (`%eth0`).
 */
import { JailError } from '../errors';

export interface IpAddress {
  family: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6, network order. */
  bytes: Uint8Array;
}

export interface Cidr extends IpAddress {
  /** Leading bits that are the network: 0-32 for IPv4, 0-128 for IPv6. */
  prefix: number;
}

const ACCEPTED_IP = 'accepted: IPv4 (192.0.2.1) or IPv6 (2001:db8::1)';
const ACCEPTED_CIDR = 'accepted: an IPv4 or IPv6 address, optionally /PREFIX (10.0.0.0/8, 2001:db8::/32)';

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    bytes[i] = n;
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | null {
  // An embedded IPv4 tail (`::ffff:192.0.2.1`) fills the last two groups.
  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.includes('.', lastColon)) {
    tail = parseIpv4(text.slice(lastColon + 1));
    if (!tail) return null;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !rest) return null;
  const total = head.length + rest.length;
  // `::` stands for at least one zero group; without it there must be exactly eight.
  if (halves.length === 2 ? total > 7 : total !== 8) return null;
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...rest];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail) bytes.set(tail, 12);
  return bytes;
}

/** The address `text` names, or null when it is not one (for callers that try other readings). */
export function tryParseIp(text: string): IpAddress | null {
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    return bytes && { family: 6, bytes };
  }
  const bytes = parseIpv4(text);
  return bytes && { family: 4, bytes };
}

/** The address `text` names; a JailError ('usage') saying what is accepted when it is not one. */
export function parseIp(text: string): IpAddress {
  const ip = tryParseIp(text);
  if (!ip) throw new JailError('usage', `${JSON.stringify(text)} is not an IP address; ${ACCEPTED_IP}`);
  return ip;
}

function hostBitsSet(ip: IpAddress, prefix: number): boolean {
  for (let bit = prefix; bit < ip.bytes.length * 8; bit++) {
    if (ip.bytes[bit >> 3] & (0x80 >> (bit & 7))) return true;
  }
  return false;
}

function cidrError(text: string, what: string, hint?: string): JailError {
  return new JailError('usage', `${JSON.stringify(text)} ${what}; ${ACCEPTED_CIDR}`, { hint });
}

/**
 * `ADDRESS` or `ADDRESS/PREFIX`, or null when `text` is not that shape at all. A range with bits
 * set after the prefix (`10.0.0.1/8`) is an error rather than silently widened: the writer may
 * have meant the host or the network, and the kernel's route tools refuse it too.
 */
export function tryParseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const ip = tryParseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return null;
  const max = ip.bytes.length * 8;
  if (slash < 0) return { ...ip, prefix: max };
  const p = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) throw cidrError(text, `has prefix length ${JSON.stringify(p)}: IPv${ip.family} takes 0-${max}`);
  const prefix = Number(p);
  if (hostBitsSet(ip, prefix)) {
    const network = formatCidr({ ...ip, bytes: mask(ip.bytes, prefix), prefix });
    throw cidrError(text, `has bits set after the /${prefix} prefix`, `write the network ${network}, or the single address ${formatIp(ip)}`);
  }
  return { ...ip, prefix };
}

/** Like tryParseCidr, but a JailError ('usage') when `text` is not an address or range. */
export function parseCidr(text: string): Cidr {
  const cidr = tryParseCidr(text);
  if (!cidr) throw cidrError(text, 'is not an IP address or CIDR range');
  return cidr;
}

function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = bytes[i] & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

/** Whether `address` is inside `cidr`. Families never mix: use unmapV4 first to test a mapped address against IPv4 ranges. */
export function contains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false;
  const masked = mask(address.bytes, cidr.prefix);
  return masked.every((b, i) => b === cidr.bytes[i]);
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`), else null. */
export function unmapV4(address: IpAddress): IpAddress | null {
  if (address.family !== 6) return null;
  const b = address.bytes;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return null;
  if (b[10] !== 0xff || b[11] !== 0xff) return null;
  return { family: 4, bytes: b.slice(12) };
}

/** Canonical text: dotted-quad IPv4; RFC 5952 IPv6 (lowercase, longest zero run as `::`, mapped as `::ffff:a.b.c.d`). */
export function formatIp(address: IpAddress): string {
  const b = address.bytes;
  if (address.family === 4) return Array.from(b).join('.');
  const v4 = unmapV4(address);
  if (v4) return `::ffff:${formatIp(v4)}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr)}/${cidr.prefix}`;
}
