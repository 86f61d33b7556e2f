/**
 * The addresses a networked jail may never reach, whatever `--net internet` or a domain allow
 * says: this host, private and shared networks, link-local (which holds the cloud metadata
 * service at 169.254.169.254), multicast and reserved space. Only an explicit IP/CIDR `--allow`
 * covering an address lifts it. The planner turns BLOCKED_RANGES into kernel routing rules; the
 * proxy checks every address a name resolves to with blockedBy (DNS rebinding).
 */
import * as os from 'node:os';
import { contains, parseCidr, tryParseIp, unmapV4, type Cidr, type IpAddress } from './cidr';

export interface BlockedRange {
  cidr: string;
  /** The name events and errors give for a refusal by this range. */
  rule: string;
}

export const BLOCKED_RANGES: readonly BlockedRange[] = [
  { cidr: '0.0.0.0/8', rule: 'this-network' },
  { cidr: '10.0.0.0/8', rule: 'private-10' },
  { cidr: '100.64.0.0/10', rule: 'shared-100-64' },
  { cidr: '127.0.0.0/8', rule: 'loopback' },
  { cidr: '169.254.0.0/16', rule: 'link-local' },
  { cidr: '172.16.0.0/12', rule: 'private-172-16' },
  { cidr: '192.0.0.0/24', rule: 'ietf-192-0-0' },
  { cidr: '192.168.0.0/16', rule: 'private-192-168' },
  { cidr: '224.0.0.0/4', rule: 'multicast' },
  { cidr: '240.0.0.0/4', rule: 'reserved-240' },
  { cidr: '::1/128', rule: 'loopback-v6' },
  { cidr: '::/128', rule: 'unspecified-v6' },
  { cidr: '::ffff:0:0/96', rule: 'v4-mapped' },
  { cidr: '64:ff9b::/96', rule: 'nat64' },
  { cidr: 'fc00::/7', rule: 'unique-local-v6' },
  { cidr: 'fe80::/10', rule: 'link-local-v6' },
  { cidr: 'ff00::/8', rule: 'multicast-v6' },
];

const PARSED: readonly { cidr: Cidr; rule: string }[] = BLOCKED_RANGES.map((r) => ({ cidr: parseCidr(r.cidr), rule: r.rule }));

/** Every address on every interface of this network namespace (the supervisor's, i.e. the host's). */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.push(a.address);
  }
  return out;
}

/** `fe80::1%eth0` → `fe80::1`: the zone says which link, not which address. */
function parseAddress(text: string): IpAddress | null {
  const zone = text.indexOf('%');
  return tryParseIp(zone < 0 ? text : text.slice(0, zone));
}

function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
}

/**
 * The rule that blocks `address`, or null when the jail may reach it. An IPv4-mapped IPv6
 * address is the IPv4 address it carries, so it is checked against the IPv4 ranges first (the
 * name says which private range it hides). Something that is not an address at all is blocked
 * ('not-an-address'): callers pass resolver and socket output, and a check that cannot read
 * its input must fail closed.
 */
export function blockedBy(address: string, hostAddrs: string[]): string | null {
  const ip = parseAddress(address);
  if (!ip) return 'not-an-address';
  const candidates = [unmapV4(ip), ip].filter((a): a is IpAddress => a !== null);
  for (const a of candidates) {
    const hit = PARSED.find((r) => contains(r.cidr, a));
    if (hit) return hit.rule;
  }
  for (const h of hostAddrs) {
    const host = parseAddress(h);
    if (!host) continue;
    const hostV4 = unmapV4(host) ?? host;
    if (candidates.some((a) => sameAddress(a, host) || sameAddress(a, hostV4))) return 'host-address';
  }
  return null;
}

/**
 * Whether an allowed CIDR opens blocked addresses on purpose: it lies wholly inside one blocked
 * range (`--allow 10.1.2.3`, `--allow 192.168.0.0/24`) or is one of the host's own addresses. Only
 * such a rule lifts the blocklist; a wider one (`--allow 0.0.0.0/0`) opens the public addresses
 * it covers and nothing blocked, so the metadata address never comes along by accident.
 */
export function insideBlocklist(cidr: Cidr, hostAddrs: string[]): boolean {
  if (PARSED.some((r) => r.cidr.family === cidr.family && r.cidr.prefix <= cidr.prefix && contains(r.cidr, cidr))) return true;
  const whole = cidr.family === 4 ? 32 : 128;
  return cidr.prefix === whole && hostAddrs.some((h) => {
    const host = parseAddress(h);
    return host !== null && sameAddress(host, cidr);
  });
}
