/**
 * Events for the connections a networked jail makes through its link (not the proxy): the jail's
 * seccomp listener notifies connect, and sendto with an address (src/sandbox/seccomp.ts), the
 * addon reads the destination while the syscall waits (native/unotify.cc), and here the jail's
 * own routing rules are evaluated as the kernel will, to say whether it goes out and which rule
 * decided. The kernel's rules are what enforce it; this is the report of it.
 */
import type { SeccompNotification } from '../native/types';
import { contains, formatIp, parseCidr, unmapV4, type IpAddress } from './cidr';
import type { NetEvent } from './events';
import type { NamedNetRule, NetworkRuntime } from './plan';

/** What the listener filter notifies for a networked jail (kafel). */
export const NET_WATCH_POLICY = 'USER_NOTIF { connect, sendto(fd, buf, len, flags, addr, addrlen) { addr != 0 } } DEFAULT ALLOW';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const IPPROTO = { tcp: 6, udp: 17 } as const;

interface Destination {
  address: IpAddress;
  port: number;
}

/** struct sockaddr_in / sockaddr_in6 -> address and port; null for other families or short reads. */
export function decodeSockaddr(bytes: Buffer): Destination | null {
  if (bytes.length < 2) return null;
  const family = bytes.readUInt16LE(0);
  if (family === AF_INET && bytes.length >= 8) return { port: bytes.readUInt16BE(2), address: { family: 4, bytes: new Uint8Array(bytes.subarray(4, 8)) } };
  if (family === AF_INET6 && bytes.length >= 24) return { port: bytes.readUInt16BE(2), address: { family: 6, bytes: new Uint8Array(bytes.subarray(8, 24)) } };
  return null;
}

function matches(rule: NamedNetRule, dst: IpAddress, proto: number, port: number): boolean {
  if (rule.family !== dst.family) return false;
  if (rule.dst !== '' && !contains(parseCidr(rule.dst), dst)) return false;
  if (rule.proto !== 0 && rule.proto !== proto) return false;
  if (rule.dport && (port < rule.dport[0] || port > rule.dport[1])) return false;
  // src, sport, iif and oif never appear in jail's own rules; nsjail's traffic_rule may set them,
  // and an event cannot tell them apart: such a rule is taken to match.
  return true;
}

/** The rule the kernel applies first (lowest priority number, then the order added), or null for the main table. */
export function decidingRule(rules: readonly NamedNetRule[], dst: IpAddress, proto: number, port: number): NamedNetRule | null {
  let best: NamedNetRule | null = null;
  for (const r of rules) {
    if ((best === null || r.priority < best.priority) && matches(r, dst, proto, port)) best = r;
  }
  return best;
}

function isLocal(dst: IpAddress, runtime: NetworkRuntime): boolean {
  const text = formatIp(dst);
  if (dst.family === 4 ? dst.bytes[0] === 127 : text === '::1') return true;
  return runtime.link !== null && (text === runtime.link.ip4 || text === runtime.link.ip6);
}

/**
 * The net event of one notification, or null when it is not a connection leaving the jail
 * (another address family, its own loopback or address, a socket that is neither TCP nor UDP).
 */
export function netEventOf(n: SeccompNotification, runtime: NetworkRuntime): NetEvent | null {
  if (!n.sockaddr) return null;
  const decoded = decodeSockaddr(n.sockaddr);
  if (!decoded) return null;
  const proto = n.socketType === SOCK_STREAM ? 'tcp' : n.socketType === SOCK_DGRAM ? 'udp' : null;
  if (proto === null) return null;
  // A v4-mapped IPv6 destination is routed as the IPv4 address it carries.
  const dst = unmapV4(decoded.address) ?? decoded.address;
  if (isLocal(dst, runtime)) return null;
  const rule = decidingRule(runtime.rules, dst, IPPROTO[proto], decoded.port);
  const action = rule === null || rule.action === 'lookup' ? 'allow' : 'deny';
  return { type: 'net', action, proto, dst: formatIp(dst), port: decoded.port, rule: rule?.name ?? 'internet' };
}
