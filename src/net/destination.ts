/**
 * `--allow DEST` and `--publish` values, and matching a connection against the allow list.
 *
 * A wildcard `*.example.com` matches every name below example.com at any depth
 * (`a.example.com`, `a.b.example.com`) but not `example.com` itself: allowing a parent should
 * be a visible decision, so the apex needs its own `--allow example.com`.
 */
import { JailError } from '../errors';
import { contains, formatCidr, formatIp, tryParseCidr, tryParseIp, unmapV4, type Cidr } from './cidr';

export type AllowRule =
  | { kind: 'domain'; /** lowercase, no trailing dot */ domain: string; port?: number; text: string }
  | { kind: 'wildcard'; /** the part after `*.`, lowercase */ suffix: string; port?: number; text: string }
  | { kind: 'cidr'; cidr: Cidr; port?: number; text: string };
// `text` is the rule in canonical form (`pypi.org:443`, `10.0.0.0/8`): events name it as their rule.

export interface PublishRule {
  hostIp: string;
  hostPort: number;
  jailPort: number;
  proto: 'tcp' | 'udp';
}

const ALLOW_ACCEPTED = 'accepted: a domain (pypi.org), *.domain (*.huggingface.co), an IP or CIDR (10.0.0.0/8, [2001:db8::1]), optionally :PORT (pypi.org:443)';
const PUBLISH_ACCEPTED = 'accepted: [HOSTIP:]HOSTPORT:JAILPORT[/tcp|/udp] (8080:80, 127.0.0.1:8080:80/tcp, [::1]:5353:53/udp), ports 1-65535';

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * `name` lowercased without its trailing dot, or null when it is not a DNS host name. The proxy
 * only ever resolves names that passed this: a name with a NUL or a space could be cut short by
 * the C resolver and reach a host other than the one matched. A numeric last label is refused
 * because no top-level domain is numeric and the resolver would read `10.1` as an address.
 */
export function normalizeDomain(name: string): string | null {
  const d = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  if (d.length === 0 || d.length > 253) return null;
  const labels = d.split('.');
  if (!labels.every((l) => LABEL.test(l))) return null;
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return null;
  return d;
}

/** A decimal port 1-65535, else null. */
export function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** `host[:port]` where host may be `[IPv6]`; a bare IPv6 (two or more colons) has no port. */
export function splitHostPort(text: string): { host: string; port?: string; bracketed: boolean } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { host: text, bracketed: false };
    const after = text.slice(close + 1);
    if (after === '') return { host: text.slice(1, close), bracketed: true };
    if (!after.startsWith(':')) return { host: text, bracketed: false };
    return { host: text.slice(1, close), port: after.slice(1), bracketed: true };
  }
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const i = text.indexOf(':');
    return { host: text.slice(0, i), port: text.slice(i + 1), bracketed: false };
  }
  return { host: text, bracketed: false };
}

/** One `--allow` value; a JailError ('flag') saying what is wrong and what is accepted. */
export function parseAllow(text: string): AllowRule {
  const fail = (what: string, hint?: string) => new JailError('flag', `--allow ${JSON.stringify(text)}: ${what}; ${ALLOW_ACCEPTED}`, { hint });
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(text.trim());
  if (scheme) throw fail('is a URL, not a destination', `give the host (and port) alone: --allow ${scheme[1] || 'HOST'}`);
  const { host, port: portText, bracketed } = splitHostPort(text.trim());
  if (host === '') throw fail('no destination');
  let port: number | undefined;
  if (portText !== undefined) {
    const p = parsePort(portText);
    if (p === null) throw fail(`port ${JSON.stringify(portText)} is not a number from 1 to 65535`);
    port = p;
  }
  const suffix = port === undefined ? '' : `:${port}`;

  let cidr: Cidr | null;
  try {
    cidr = tryParseCidr(host);
  } catch (e) {
    throw fail((e as JailError).message.replace(/; accepted:.*$/, ''), (e as JailError).hint);
  }
  if (cidr) {
    if (cidr.family === 6 && unmapV4(cidr) && cidr.prefix >= 96) {
      const v4 = formatIp(unmapV4(cidr)!);
      throw fail('is an IPv4-mapped IPv6 address', `write the IPv4 form (${cidr.prefix === 128 ? v4 : `${v4}/${cidr.prefix - 96}`})`);
    }
    if (cidr.family === 6 && port !== undefined && !bracketed) throw fail('an IPv6 address with a port needs brackets', `write [${host}]${suffix}`);
    const canon = formatCidr(cidr);
    const shown = cidr.family === 6 && port !== undefined ? `[${canon}]` : canon;
    return { kind: 'cidr', cidr, port, text: shown + suffix };
  }
  if (bracketed) throw fail(`${JSON.stringify(host)} in brackets is not an IPv6 address or CIDR`);
  if (host.includes(':')) throw fail(`${JSON.stringify(host)} is not an IPv6 address or CIDR`);
  if (/^[0-9./]+$/.test(host)) throw fail(`${JSON.stringify(host)} is not an IPv4 address or CIDR (four numbers 0-255, no leading zeros, optional /0-32)`);
  if (/[^\x20-\x7e]/.test(host)) throw fail(`${JSON.stringify(host)} has non-ASCII characters`, 'write an internationalised domain in its punycode form (xn--...)');

  if (host.startsWith('*.')) {
    const s = normalizeDomain(host.slice(2));
    if (s === null) throw fail(`${JSON.stringify(host.slice(2))} after "*." is not a domain name`);
    return { kind: 'wildcard', suffix: s, port, text: `*.${s}${suffix}` };
  }
  if (host.includes('*')) throw fail('a wildcard is only accepted as a whole first label ("*.example.com")');
  const domain = normalizeDomain(host);
  if (domain === null) throw fail(`${JSON.stringify(host)} is not a domain name (labels of letters, digits, "-" and "_" separated by dots)`);
  return { kind: 'domain', domain, port, text: domain + suffix };
}

function portMatches(rule: AllowRule, port: number): boolean {
  return rule.port === undefined || rule.port === port;
}

/** The first domain or wildcard rule that allows name `host` at `port`, else null (also for a malformed name). */
export function matchDomain(rules: readonly AllowRule[], host: string, port: number): AllowRule | null {
  const name = normalizeDomain(host);
  if (name === null) return null;
  for (const r of rules) {
    if (!portMatches(r, port)) continue;
    if (r.kind === 'domain' && r.domain === name) return r;
    if (r.kind === 'wildcard' && name.endsWith(`.${r.suffix}`)) return r;
  }
  return null;
}

/**
 * The first rule that allows the connection: a domain rule by the name asked for (`host`), an
 * IP/CIDR rule by `address` (an IPv4-mapped IPv6 address counts as its IPv4 address).
 */
export function matchAllow(rules: readonly AllowRule[], dest: { host?: string; address: string; port: number }): AllowRule | null {
  const parsed = tryParseIp(dest.address);
  const ip = parsed && (unmapV4(parsed) ?? parsed);
  for (const r of rules) {
    if (!portMatches(r, dest.port)) continue;
    if (r.kind === 'cidr') {
      if (ip && contains(r.cidr, ip)) return r;
    } else if (dest.host !== undefined && matchDomain([r], dest.host, dest.port)) {
      return r;
    }
  }
  return null;
}

/** One `--publish [HOSTIP:]HOSTPORT:JAILPORT[/tcp|/udp]` value (host IP default 127.0.0.1). */
export function parsePublish(text: string): PublishRule {
  const fail = (what: string, hint?: string) => new JailError('flag', `--publish ${JSON.stringify(text)}: ${what}; ${PUBLISH_ACCEPTED}`, { hint });
  let rest = text.trim();
  let proto: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') throw fail(`protocol ${JSON.stringify(rest.slice(slash + 1))} is not tcp or udp`);
    proto = p;
    rest = rest.slice(0, slash);
  }
  let hostIp = '127.0.0.1';
  let ports: string[];
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw fail('an IPv6 host address must be in brackets followed by ":"', 'e.g. [::1]:8080:80');
    const ip = tryParseIp(rest.slice(1, close));
    if (!ip || ip.family !== 6) throw fail(`${JSON.stringify(rest.slice(1, close))} is not an IPv6 address`);
    hostIp = formatIp(ip);
    ports = rest.slice(close + 2).split(':');
  } else {
    const parts = rest.split(':');
    if (parts.length === 3) {
      const ip = tryParseIp(parts[0]);
      if (!ip) throw fail(`host address ${JSON.stringify(parts[0])} is not an IPv4 address`, parts[0].includes('.') ? undefined : 'an IPv6 host address goes in brackets: [::1]:8080:80');
      hostIp = formatIp(ip);
      ports = parts.slice(1);
    } else {
      ports = parts;
    }
  }
  if (ports.length !== 2) throw fail('expected a host port and a jail port separated by ":"');
  const [hostPort, jailPort] = ports.map(parsePort);
  if (hostPort === null) throw fail(`host port ${JSON.stringify(ports[0])} is not a number from 1 to 65535`);
  if (jailPort === null) throw fail(`jail port ${JSON.stringify(ports[1])} is not a number from 1 to 65535`);
  return { hostIp, hostPort, jailPort, proto };
}
