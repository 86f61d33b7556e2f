/**
 * The network stage of planning: config (`--net`, `--allow`, `--publish`, nsjail's user_net and
 * traffic_rule) -> what the jail's network namespace gets.
 *
 * Two halves, enforced in two places:
 *  - rules: routing-policy rules (`ip rule`) that the jail's own init adds before it drops its
 *    capabilities (native/network.cc). A destination they make unreachable fails at once with
 *    ENETUNREACH, for TCP, UDP and ICMP alike, and the program cannot remove them: it has no
 *    CAP_NET_ADMIN left (planNetwork refuses to keep it).
 *  - link: the user-mode link to the outside, pasta (Debian's passt), started by the supervisor
 *    once the jail's namespaces exist (src/net/link.ts). It turns the jail's packets into ordinary
 *    sockets of the supervisor, so it works without root.
 * Domains in `--allow` cannot be routing rules: they go through jail's own proxy
 * (src/net/proxy.ts), which the jail reaches on its loopback through the link.
 *
 * nsjail's macvlan_iface and iface_own are the other way out, root only: instead of a link the
 * supervisor gives the jail host interfaces (src/net/ifaces.ts). They are an explicit opening onto
 * a LAN, so no blocklist applies to them, only the config's traffic_rule (as in nsjail).
 */
import { capabilityNumber } from '../config/caps';
import { fieldProblem } from '../config/finish';
import type { Config, LoadedConfig, NstunRule, TrafficRule } from '../config/types';
import { BLOCKED_RANGES, hostAddresses as hostAddressList, insideBlocklist } from './blocklist';
import { contains, formatCidr, formatIp, parseCidr, tryParseCidr, tryParseIp, type Cidr } from './cidr';
import { parseAllow, parsePublish, type AllowRule, type PublishRule } from './destination';

/** The jail side of the link: nsjail's user_net defaults, so nsjail configs see the same addresses. */
export const LINK_DEFAULTS = { ip4: '10.255.255.2', gw4: '10.255.255.1', mask4: 24, ip6: 'fc00::2', gw6: 'fc00::1', iface: 'eth0' } as const;

/** Where programs in the jail find the allow-list proxy: its loopback, forwarded to the supervisor. */
export const PROXY_JAIL_PORT = 3128;

/** One routing-policy rule, in the addon's words (plan.network.rules). */
export interface NetRulePlan {
  family: 4 | 6;
  /** CIDR or address; '' = any. */
  dst: string;
  src: string;
  /** IPPROTO_* (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6); 0 = any. */
  proto: number;
  dport: [number, number] | null;
  sport: [number, number] | null;
  iif: string;
  oif: string;
  /** lookup: the main table (reachable); unreachable: ENETUNREACH at once; blackhole: dropped (EINVAL at connect). */
  action: 'lookup' | 'unreachable' | 'blackhole';
  priority: number;
}

/** A rule with the name events give it (`private-10`, `dns`, `pypi.org:443`, `traffic_rule[2]`). */
export interface NamedNetRule extends NetRulePlan {
  name: string;
}

export interface LinkPlan {
  ip4: string;
  gw4: string;
  mask4: number;
  ip6: string;
  gw6: string;
  iface: string;
  ipv4: boolean;
  ipv6: boolean;
  tcp: boolean;
  udp: boolean;
  icmp: boolean;
  /** Address in the jail whose port 53 pasta forwards to the host's resolver, or null. */
  dnsForward: string | null;
  publish: PublishRule[];
  /** pasta -T/-U specs: jail ports forwarded to the host's loopback (nsjail's tcp_map_out). */
  tcpOut: string[];
  udpOut: string[];
}

/** What the supervisor runs for the jail's network, beside the plan's rules. */
/** nsjail's MACVLAN: an interface `vs` on a host interface, made in the jail's namespace. */
export interface MacvlanPlan {
  /** The host interface it sits on (macvlan_iface). */
  parent: string;
  mode: MacvlanMode;
  /** '' = a random one, from the kernel. */
  mac: string;
  /** IPv4 address and prefix of `vs`; null (macvlan_vs_ip 0.0.0.0) = `vs` is left down and unconfigured. */
  address: { ip: string; prefix: number } | null;
  /** Default route via this address; null (macvlan_vs_gw 0.0.0.0) = no default route. */
  gateway: string | null;
}

export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru';
export const MACVLAN_MODES: readonly MacvlanMode[] = ['private', 'vepa', 'bridge', 'passthru'];
/** nsjail's name for the MACVLAN interface in the jail. */
export const MACVLAN_NAME = 'vs';

/** Host interfaces the supervisor gives the jail before it goes on (root only). */
export interface IfacePlan {
  /** iface_own: moved into the jail's namespace as they are (down, not configured). */
  own: string[];
  macvlan: MacvlanPlan | null;
}

export interface NetworkRuntime {
  /** The user-mode link (pasta), or null when the jail gets host interfaces instead. */
  link: LinkPlan | null;
  /** Host interfaces for the jail (macvlan_iface, iface_own), or null. */
  ifaces: IfacePlan | null;
  /** The allow-list proxy (domains in --allow), or null. */
  proxy: { allow: AllowRule[] } | null;
  /** The host's own addresses when planned: never reachable from the jail. */
  hostAddresses: string[];
  /** The plan's rules with their names, to say which one decided a connection (src/net/watch.ts). */
  rules: NamedNetRule[];
  /**
   * nsjail's user_net REDIRECT / ENCAP_CONNECT / ENCAP_SOCKS5 rules, with the rules before them
   * that keep a packet as it is, in order (first match wins): the jail's nft nat table and the
   * supervisor's listeners (src/net/rewrite.ts). Empty when the config has no rewrite rule.
   */
  nat: NatRule[];
}

/** One rule of the jail's nat table (src/net/rewrite.ts), in nsjail's words. */
export interface NatRule {
  /** user_net.rule4[1], dns, ... */
  name: string;
  family: 4 | 6;
  /**
   * keep: the packet goes on as it is (an earlier ALLOW, DROP or REJECT, whose routing rule
   * decides it; the DNS forwarder); the others hand it to a supervisor listener: redirect (to
   * target), connect (an HTTP CONNECT proxy at target), socks5 (a SOCKS5 server at target).
   */
  action: 'keep' | 'redirect' | 'connect' | 'socks5';
  /** What it matches; [] = every protocol. */
  protos: ('tcp' | 'udp' | 'icmp')[];
  src: string;
  dst: string;
  sport: [number, number] | null;
  dport: [number, number] | null;
  /** Host-side address and port (as the supervisor sees them); ip '' or port 0 = the original one. */
  target: { ip: string; port: number } | null;
}

export interface NetworkPlan {
  /** For plan.network (null: no rules and no link). */
  native: { rules: NetRulePlan[]; gate: boolean } | null;
  runtime: NetworkRuntime | null;
  /** Environment entries the jail gets (proxy variables). */
  env: string[];
  /** Content for the jail's /etc/resolv.conf, or null to leave it alone. */
  resolvConf: string | null;
  /** Capabilities keep_caps must not keep (see capsToDrop). */
  dropCaps: number[];
  warnings: string[];
}

const TCP = 6;
const UDP = 17;

// Priority bands (lower runs first; the kernel's `local` table at 0 always comes before, so the
// jail's own addresses and loopback stay reachable).
const BAND = {
  trafficRule: 100, // nsjail's traffic_rule: later rules win, so they count down from 999
  exception: 1000, // what the user or the preset opens: DNS to the forwarder, --allow CIDRs
  nstun: 1500, // nsjail's user_net rule4/rule6, first match wins
  blocked: 2000, // the blocklist and the host's own addresses
  allowed: 2500, // --allow CIDRs wider than a blocked range
  ports: 3000, // limited: TCP 80 and 443
  closeAll: 3999, // everything else, when the preset allows only a list
} as const;

/** The jail may not keep what would let it rewrite its own rules or forge packets. */
const NET_CAPS = ['CAP_NET_ADMIN', 'CAP_NET_RAW'];

function rule(name: string, family: 4 | 6, dst: string, action: NetRulePlan['action'], priority: number, extra: Partial<NetRulePlan> = {}): NamedNetRule {
  return { name, family, dst, src: '', proto: 0, dport: null, sport: null, iif: '', oif: '', action, priority, ...extra };
}

function withoutName({ name: _, ...r }: NamedNetRule): NetRulePlan {
  return r;
}

function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

function blockRules(hostAddresses: string[]): NamedNetRule[] {
  const out: NamedNetRule[] = [];
  for (const r of BLOCKED_RANGES) {
    const cidr = parseCidr(r.cidr);
    out.push(rule(r.rule, cidr.family, formatCidr(cidr), 'unreachable', BAND.blocked));
  }
  for (const a of new Set(hostAddresses.map((h) => h.replace(/%.*$/, '')))) out.push(rule('host-address', familyOf(a), a, 'unreachable', BAND.blocked + 1));
  return out;
}

/** Everything not opened before: `why` names it in events (not-allowed, limited, publish-only). */
function closeAll(why: string): NamedNetRule[] {
  return [rule(why, 4, '', 'unreachable', BAND.closeAll), rule(why, 6, '', 'unreachable', BAND.closeAll)];
}

function dnsKeep(server: string): NatRule[] {
  return [{ name: 'dns', family: familyOf(server), action: 'keep', protos: ['tcp', 'udp'], src: '', dst: server, sport: null, dport: [53, 53], target: null }];
}

function dnsRules(server: string): NamedNetRule[] {
  return [TCP, UDP].map((proto) => rule('dns', familyOf(server), server, 'lookup', BAND.exception, { proto, dport: [53, 53] }));
}

/**
 * --allow CIDRs. One that names blocked addresses on purpose (insideBlocklist) goes before the
 * blocklist; a wider one after it, so `--allow 0.0.0.0/0` opens the public addresses only.
 */
function allowRules(allow: AllowRule[], hostAddresses: string[]): NamedNetRule[] {
  const out: NamedNetRule[] = [];
  for (const a of allow) {
    if (a.kind !== 'cidr') continue;
    const cidr = a.cidr;
    const priority = insideBlocklist(cidr, hostAddresses) ? BAND.exception : BAND.allowed;
    const ports: [number, number] | null = a.port === undefined ? null : [a.port, a.port];
    // A port opens TCP and UDP alike: --allow names a destination, not a protocol.
    if (ports) for (const proto of [TCP, UDP]) out.push(rule(a.text, cidr.family, formatCidr(cidr), 'lookup', priority, { proto, dport: ports }));
    else out.push(rule(a.text, cidr.family, formatCidr(cidr), 'lookup', priority));
  }
  return out;
}

const TRAFFIC_PROTO: Record<string, number> = { UNKNOWN_PROTO: 0, TCP, UDP, ICMP: 1, ICMPV6: 58 };
const TRAFFIC_ACTION: Record<string, NetRulePlan['action']> = { DROP: 'blackhole', REJECT: 'unreachable', ALLOW: 'lookup' };

function portRange(start: number, end: number): [number, number] | null {
  if (start === 0) return null;
  return [start, Math.max(start, end)];
}

/** nsjail's traffic_rule, as nsjail applies it: policy-routing rules, later rules first. */
function trafficRules(loaded: LoadedConfig): NamedNetRule[] {
  return loaded.config.trafficRule.map((t: TrafficRule, i) => {
    const family = t.ipFamily === 'IPV6' ? 6 : 4;
    for (const key of ['srcIp', 'dstIp'] as const) {
      if (t[key] !== '' && parseCidrOrNull(t[key])?.family !== family) {
        throw fieldProblem(loaded, [`traffic_rule.${i}.${key === 'srcIp' ? 'src_ip' : 'dst_ip'}`], `'${t[key]}' is not an IPv${family} address or CIDR`, `give an IPv${family} address or CIDR, or set ip_family to match`);
      }
    }
    if (t.action === 'UNKNOWN_ACTION') throw fieldProblem(loaded, [`traffic_rule.${i}.action`], 'UNKNOWN_ACTION is not an action', 'use DROP, REJECT or ALLOW');
    return rule(`traffic_rule[${i}]`, family, t.dstIp, TRAFFIC_ACTION[t.action], BAND.trafficRule + 899 - Math.min(i, 899), {
      src: t.srcIp,
      proto: TRAFFIC_PROTO[t.proto] ?? 0,
      dport: portRange(t.dport, t.dportEnd),
      sport: portRange(t.sport, t.sportEnd),
      iif: t.iif,
      oif: t.oif,
    });
  });
}

function parseCidrOrNull(text: string): { family: 4 | 6 } | null {
  try {
    return parseCidr(text);
  } catch {
    return null;
  }
}

const NSTUN_PROTO: Record<string, number> = { ANY: 0, TCP, UDP, ICMP: 1 };
const NSTUN_REWRITE: Record<string, NatRule['action']> = { REDIRECT: 'redirect', ENCAP_CONNECT: 'connect', ENCAP_SOCKS5: 'socks5' };

/** nsjail's user_net rule4/rule6 (outbound): routing rules for all, and the nat table when some rewrite. */
interface NstunPlan {
  routing: NamedNetRule[];
  nat: NatRule[];
  warnings: string[];
}

/**
 * nsjail's user_net rule4/rule6, GUEST_TO_HOST (first match wins). DROP, REJECT and ALLOW are
 * routing rules. REDIRECT and ENCAP_* are handed to the supervisor by the jail's nat table
 * (src/net/rewrite.ts); their routing rule only says `lookup`, so that no later rule refuses what
 * they match first, preceded by the blocklist for what they match: a rewrite never lets the
 * program reach a blocked address it picks (a proxy would be asked for it), unless the rule's
 * dst_ip itself names blocked addresses, as an --allow CIDR may.
 */
function nstunRules(loaded: LoadedConfig, list: NstunRule[], family: 4 | 6, field: string, hosts: string[]): NstunPlan {
  const out: NstunPlan = { routing: [], nat: [], warnings: [] };
  const keeps: NatRule[] = [];
  let position = 0;
  list.forEach((r, index) => {
    if (r.direction !== 'GUEST_TO_HOST') return;
    // Priorities count outbound rules only; names keep the rule's place in the config.
    const at = BAND.nstun + Math.min(position++, 499);
    const name = `user_net.${field}[${index}]`;
    const path = [`user_net.${field}.${index}`];
    const selectors = { src: r.srcIp, sport: portRange(r.sport, r.sportEnd), dport: portRange(r.dport, r.dportEnd) };
    const icmp = family === 6 ? 58 : 1;
    const action = NSTUN_REWRITE[r.action];
    if (!action) {
      const proto = r.proto === 'ICMP' ? icmp : NSTUN_PROTO[r.proto];
      out.routing.push(rule(name, family, r.dstIp, TRAFFIC_ACTION[r.action], at, { ...selectors, proto }));
      keeps.push({ name, family, action: 'keep', protos: r.proto === 'ANY' ? [] : [r.proto.toLowerCase() as 'tcp'], dst: r.dstIp, ...selectors, target: null });
      return;
    }
    const target = rewriteTarget(loaded, r, path, field, action);
    if (action !== 'redirect' && r.proto === 'ICMP') {
      throw fieldProblem(loaded, path, `user_net ${field} action ${r.action} cannot carry ICMP (a proxy tunnels TCP${action === 'socks5' ? ' and UDP' : ''} only), as in nsjail`, 'use proto TCP (or UDP for ENCAP_SOCKS5), or action REDIRECT for ICMP');
    }
    const wanted: ('tcp' | 'udp' | 'icmp')[] = r.proto === 'ANY' ? ['tcp', 'udp', 'icmp'] : [r.proto.toLowerCase() as 'tcp'];
    // What the proxy cannot carry: nsjail drops UDP for ENCAP_CONNECT, leaves ICMP alone for ENCAP_*.
    const protos = wanted.filter((p) => action === 'redirect' || p === 'tcp' || (p === 'udp' && action === 'socks5'));
    const dropUdp = action === 'connect' && wanted.includes('udp');
    if (dropUdp && r.proto === 'UDP') out.warnings.push(`${name}: ENCAP_CONNECT cannot carry UDP; its UDP packets are dropped, as nsjail does`);
    const number = (p: 'tcp' | 'udp' | 'icmp') => (p === 'tcp' ? TCP : p === 'udp' ? UDP : icmp);
    const named = tryParseCidr4or6(r.dstIp);
    if (r.dstIp !== '' && (named === null || named.family !== family)) {
      throw fieldProblem(loaded, [`${path[0]}.dst_ip`], `'${r.dstIp}' is not an IPv${family} address or CIDR`, `give an IPv${family} address or CIDR in ${field}, or leave dst_ip out (any)`);
    }
    if (named === null || !insideBlocklist(named, hosts)) {
      const copied = new Set<string>();
      for (const b of blockRules(hosts)) {
        const range = parseCidr(b.dst);
        // A host address inside a blocked range (::1) is one rule already: the kernel refuses a twin.
        if (range.family !== family || (named !== null && !overlaps(range, named)) || copied.has(formatCidr(range))) continue;
        copied.add(formatCidr(range));
        for (const p of protos) out.routing.push(rule(b.name, family, b.dst, 'unreachable', at, { ...selectors, proto: number(p) }));
      }
    }
    for (const p of protos) out.routing.push(rule(name, family, r.dstIp, 'lookup', at, { ...selectors, proto: number(p) }));
    if (dropUdp) out.routing.push(rule(name, family, r.dstIp, 'blackhole', at, { ...selectors, proto: UDP }));
    if (protos.length === 0) return;
    out.nat.push(...keeps.splice(0), { name, family, action, protos, dst: r.dstIp, ...selectors, target });
  });
  return out;
}

function tryParseCidr4or6(text: string): Cidr | null {
  if (text === '') return null;
  try {
    return tryParseCidr(text);
  } catch {
    return null;
  }
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b) || contains(b, a);
}

/** redirect_ip:redirect_port of a rewrite rule, checked ('' / 0 = the original, for REDIRECT only). */
function rewriteTarget(loaded: LoadedConfig, r: NstunRule, path: string[], field: string, action: NatRule['action']): NatRule['target'] {
  const ip = r.redirectIp === '' ? null : tryParseIp(r.redirectIp);
  if (r.redirectIp !== '' && ip === null) {
    throw fieldProblem(loaded, [`${path[0]}.redirect_ip`], `'${r.redirectIp}' is not an IP address`, 'write the host-side address to send it to, e.g. 127.0.0.1 (the host\'s own loopback) or 2001:db8::1');
  }
  const unset = ip === null || ip.bytes.every((b) => b === 0);
  if (action !== 'redirect' && (unset || r.redirectPort === 0)) {
    throw fieldProblem(loaded, path, `user_net ${field} action ${r.action} needs the proxy's address: redirect_ip and redirect_port (got '${r.redirectIp}' port ${r.redirectPort})`, `e.g. redirect_ip: "127.0.0.1" redirect_port: ${action === 'connect' ? 3128 : 1080}`);
  }
  if (action === 'redirect' && unset && r.redirectPort === 0 && r.proto !== 'ICMP') {
    throw fieldProblem(loaded, path, `user_net ${field} REDIRECT without redirect_ip or redirect_port would send the packet where it was going anyway`, 'give redirect_ip (host side, e.g. 127.0.0.1) and/or redirect_port, or use action ALLOW');
  }
  return { ip: unset ? '' : formatIp(ip!), port: r.redirectPort };
}

/** pasta's -T/-U text for nsjail's tcp_map_out/udp_map_out ("none", "53", "53:5353,2222:22"). */
function pastaMapOut(loaded: LoadedConfig, text: string, field: string): string[] {
  if (text === '' || text === 'none') return [];
  return text.split(',').map((part) => {
    const ports = part.split(':');
    if (ports.length > 2 || ports.some((p) => !/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535)) {
      throw fieldProblem(loaded, [`user_net.pasta.${field}`], `'${part}' is not a port or JAILPORT:HOSTPORT`, 'write ports (1-65535) as 53 or 53:5353, separated by commas (ranges are not supported yet)');
    }
    return part;
  });
}

/** nsjail's HOST_TO_GUEST REDIRECT rules: host port dport -> jail port redirect_port, on the host's loopback. */
function nstunInbound(loaded: LoadedConfig, list: NstunRule[], field: string): PublishRule[] {
  return list.flatMap((r, i) => {
    if (r.direction !== 'HOST_TO_GUEST') return [];
    const path = [`user_net.${field}.${i}`];
    if (r.action !== 'REDIRECT' || (r.proto !== 'TCP' && r.proto !== 'UDP') || r.dport === 0 || (r.dportEnd !== 0 && r.dportEnd !== r.dport)) {
      throw fieldProblem(loaded, path, `user_net ${field} HOST_TO_GUEST is supported for action REDIRECT of one TCP or UDP port (dport), not ${r.action} ${r.proto}${r.dportEnd ? ` ${r.dport}-${r.dportEnd}` : ''}`, 'or use --publish HOSTPORT:JAILPORT');
    }
    return [parsePublish(`127.0.0.1:${r.dport}:${r.redirectPort || r.dport}/${r.proto.toLowerCase()}`)];
  });
}

/** pasta's port-map text ("none", "80", "8080:80,9000-9010") -> --publish entries on 127.0.0.1. */
function pastaMapIn(loaded: LoadedConfig, text: string, proto: 'tcp' | 'udp', field: string): PublishRule[] {
  if (text === '' || text === 'none') return [];
  return text.split(',').map((part) => {
    const [host, jail = host] = part.split(':');
    const spec = `${host}:${jail}/${proto}`;
    try {
      return parsePublish(spec);
    } catch (e) {
      throw fieldProblem(loaded, [`user_net.pasta.${field}`], `'${part}' is not a port or PORT:JAILPORT: ${(e as Error).message}`, 'write ports as 8080 or 8080:80, separated by commas (ranges are not supported yet)');
    }
  });
}

/**
 * A networked jail never keeps CAP_NET_ADMIN or CAP_NET_RAW: with them the program could rewrite
 * its own rules or write raw frames past them. Asked for by name, that is an error; keep_caps
 * (every cap, as many nsjail configs say) keeps all the others, with a warning.
 */
function capsToDrop(loaded: LoadedConfig, warnings: string[]): number[] {
  const { config } = loaded;
  const named = NET_CAPS.filter((c) => config.cap.includes(c));
  // With keep_caps the cap list means nothing (nsjail keeps everything either way).
  if (named.length > 0 && !config.keepCaps) {
    throw fieldProblem(
      loaded,
      [`cap.${config.cap.indexOf(named[0])}`],
      `a networked jail cannot keep ${named.join(' and ')}: with it the program could rewrite the rules that keep it off the host and private networks, or forge packets past them`,
      'drop it from --cap, or use --net host',
    );
  }
  if (!config.keepCaps) return [];
  warnings.push(`keep_caps: the jail keeps every capability but ${NET_CAPS.join(' and ')}, which a networked jail never keeps (they would let it rewrite its own network rules)`);
  return NET_CAPS.map((c) => capabilityNumber(c)!);
}

/** Which preset, after nsjail's -N (clone_newnet false) and user_net are taken into account. */
function effectivePreset(loaded: LoadedConfig): Config['net'] {
  const { config } = loaded;
  if (!config.cloneNewnet) {
    if (config.net !== 'none' && config.net !== 'host') {
      throw fieldProblem(loaded, ['net', 'clone_newnet'], `--net ${config.net} needs the jail's own network namespace, but -N (clone_newnet: false) shares the host's`, `drop -N, or use --net host`);
    }
    return 'host';
  }
  return config.net;
}

/** Linux interface names: 1-15 bytes, no '/', ':' or white space, not '.' or '..'. */
function checkIfname(loaded: LoadedConfig, path: string, name: string): void {
  if (name === '' || Buffer.byteLength(name) > 15 || /[/:\s]/.test(name) || name === '.' || name === '..') {
    throw fieldProblem(loaded, [path], `'${name}' is not a network interface name (1-15 bytes, no '/', ':' or spaces)`, 'ip -br link lists the host\'s interfaces');
  }
}

function ipv4Field(loaded: LoadedConfig, path: string, text: string): Uint8Array {
  const ip = tryParseIp(text);
  if (ip === null || ip.family !== 4) throw fieldProblem(loaded, [path], `'${text}' is not an IPv4 address`, 'write it as four decimal numbers, e.g. 192.168.0.2 (0.0.0.0: none)');
  return ip.bytes;
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

/** A dotted netmask (255.255.255.0) -> its prefix length; contiguous masks only, as the kernel takes them. */
function netmaskPrefix(loaded: LoadedConfig, text: string): number {
  const bytes = ipv4Field(loaded, 'macvlan_vs_nm', text);
  const n = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  let prefix = 0;
  while (prefix < 32 && n & (0x80000000 >>> prefix)) prefix++;
  const contiguous = prefix === 0 ? n === 0 : n === (0xffffffff << (32 - prefix)) >>> 0;
  if (!contiguous) throw fieldProblem(loaded, ['macvlan_vs_nm'], `'${text}' is not a netmask (its one bits must come first, as in 255.255.255.0)`, 'e.g. 255.255.255.0 for a /24');
  return prefix;
}

function sameSubnet(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((a[bit >> 3] & mask) !== (b[bit >> 3] & mask)) return false;
  }
  return true;
}

/** nsjail's macvlan_* and iface_own, checked; null when the config asks for neither. */
function planIfaces(loaded: LoadedConfig): IfacePlan | null {
  const { config } = loaded;
  const parent = config.macvlanIface ?? '';
  if (parent === '' && config.ifaceOwn.length === 0) return null;
  config.ifaceOwn.forEach((name, i) => {
    const path = `iface_own.${i}`;
    checkIfname(loaded, path, name);
    if (name === 'lo') throw fieldProblem(loaded, [path], "the loopback interface cannot move to another network namespace (the jail has its own 'lo')", 'drop it from iface_own');
    if (config.ifaceOwn.indexOf(name) !== i) throw fieldProblem(loaded, [path], `'${name}' is named twice`, 'name each interface once');
    if (parent !== '' && name === parent) {
      throw fieldProblem(loaded, [path, 'macvlan_iface'], `'${name}' is both moved into the jail (iface_own) and the host interface of its MACVLAN (macvlan_iface)`, 'use one or the other');
    }
    if (parent !== '' && name === MACVLAN_NAME) {
      throw fieldProblem(loaded, [path], `an interface moved into the jail cannot be named '${MACVLAN_NAME}': that is the name of the jail's MACVLAN interface`, `rename it on the host first (ip link set ${name} name OTHER)`);
    }
  });
  if (parent === '') return { own: [...config.ifaceOwn], macvlan: null };
  checkIfname(loaded, 'macvlan_iface', parent);
  const mode = config.macvlanVsMo as MacvlanMode;
  if (!MACVLAN_MODES.includes(mode)) throw fieldProblem(loaded, ['macvlan_vs_mo'], `'${config.macvlanVsMo}' is not a MACVLAN mode`, `use one of ${MACVLAN_MODES.join(', ')}`);
  const mac = config.macvlanVsMa.toLowerCase();
  if (mac !== '') {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw fieldProblem(loaded, ['macvlan_vs_ma'], `'${config.macvlanVsMa}' is not a MAC address`, "write six hex bytes separated by colons, e.g. 02:00:00:00:00:01 ('' = random)");
    if ((parseInt(mac.slice(0, 2), 16) & 1) !== 0 || mac === '00:00:00:00:00:00') {
      throw fieldProblem(loaded, ['macvlan_vs_ma'], `'${config.macvlanVsMa}' is not a unicast address (an interface's MAC must be one)`, 'the first byte must be even, e.g. 02:00:00:00:00:01 (locally administered)');
    }
  }
  const ip = ipv4Field(loaded, 'macvlan_vs_ip', config.macvlanVsIp);
  // nsjail: address 0.0.0.0 = `vs` is not configured at all (nor brought up, nor routed).
  if (isZero(ip)) return { own: [...config.ifaceOwn], macvlan: { parent, mode, mac, address: null, gateway: null } };
  const prefix = netmaskPrefix(loaded, config.macvlanVsNm);
  const gw = ipv4Field(loaded, 'macvlan_vs_gw', config.macvlanVsGw);
  let gateway: string | null = null;
  if (!isZero(gw)) {
    if (!sameSubnet(ip, gw, prefix) || config.macvlanVsGw === config.macvlanVsIp) {
      throw fieldProblem(
        loaded,
        ['macvlan_vs_gw'],
        `the gateway ${config.macvlanVsGw} is not another address on ${config.macvlanVsIp}/${prefix} (the subnet of macvlan_vs_ip and macvlan_vs_nm), so the kernel cannot route through it`,
        'give a gateway on that subnet, or 0.0.0.0 for no default route',
      );
    }
    gateway = config.macvlanVsGw;
  }
  return { own: [...config.ifaceOwn], macvlan: { parent, mode, mac, address: { ip: config.macvlanVsIp, prefix }, gateway } };
}

/** The field that asked for host interfaces, to name in errors. */
function ifaceField(config: Config): string {
  return (config.macvlanIface ?? '') !== '' ? 'macvlan_iface' : 'iface_own';
}

/**
 * The jail's network is host interfaces (macvlan, iface_own): no link, no blocklist, the
 * config's traffic_rule only. Refused where it cannot be done or would mix with a preset.
 */
function planIfaceNetwork(loaded: LoadedConfig, ifaces: IfacePlan, preset: Config['net'], euid: number): NetworkPlan {
  const { config } = loaded;
  const what = ifaceField(config);
  const named = what === 'macvlan_iface' ? 'macvlan (macvlan_iface)' : 'iface_own';
  if (preset === 'host') {
    throw fieldProblem(loaded, [what, 'clone_newnet', 'net'], `${named} puts interfaces in the jail's own network namespace, but the jail shares the host's (-N / --net host)`, 'drop -N and --net host');
  }
  const others: Array<[string, boolean]> = [
    ['net', preset !== 'none'],
    ['allow', config.allow.length > 0],
    ['publish', config.publish.length > 0],
    ['user_net', config.userNet !== undefined],
  ];
  const other = others.find(([, on]) => on)?.[0];
  if (other) {
    const flag = other === 'net' ? `--net ${preset}` : other === 'user_net' ? 'user_net' : `--${other}`;
    throw fieldProblem(
      loaded,
      [what, other],
      `${named} cannot be combined with ${flag}: the jail would have two ways out, and only one of them would keep jail's blocklist (host interfaces get only traffic_rule)`,
      `use ${named} alone (with traffic_rule to limit it), or ${flag} without it`,
    );
  }
  if (config.mode === 'EXECVE') {
    throw fieldProblem(loaded, ['mode', what], '-Me (execve mode) leaves no supervisor to give the jail its interfaces', `use the default mode (-Mo) for ${named}`);
  }
  if (euid !== 0) {
    throw fieldProblem(
      loaded,
      [what],
      `${what === 'macvlan_iface' ? 'macvlan' : 'iface_own'} needs root (CAP_NET_ADMIN on the host): jail makes or moves host interfaces for the jail`,
      'run jail as root (sudo), or use --net internet / user_net, which need no root',
    );
  }
  const rules = config.cloneNewnet ? trafficRules(loaded) : [];
  return {
    native: { rules: rules.map(withoutName), gate: true },
    runtime: { link: null, ifaces, proxy: null, hostAddresses: [], rules, nat: [] },
    env: [],
    resolvConf: null,
    dropCaps: [],
    warnings: [],
  };
}

export function planNetwork(loaded: LoadedConfig, hostAddresses: () => string[] = hostAddressList, euid: number = process.geteuid?.() ?? -1): NetworkPlan {
  const { config } = loaded;
  const preset = effectivePreset(loaded);
  const ifaces = planIfaces(loaded);
  if (ifaces) return planIfaceNetwork(loaded, ifaces, preset, euid);
  const allow = config.allow.map(parseAllow);
  const publish = config.publish.map(parsePublish);
  const userNet = config.userNet;
  const none: NetworkPlan = { native: null, runtime: null, env: [], resolvConf: null, dropCaps: [], warnings: [] };
  const traffic = config.cloneNewnet ? trafficRules(loaded) : [];

  if (preset === 'host') {
    for (const [key, list] of [['allow', allow], ['publish', publish]] as const) {
      if (list.length > 0) {
        throw fieldProblem(loaded, [key], `--${key} needs the jail's own network namespace; with --net host (or -N) the jail already shares the host's network`, `drop --${key}, or use --net internet / --net none`);
      }
    }
    if (userNet) throw fieldProblem(loaded, ['user_net'], 'user_net needs the jail\'s own network namespace, but the jail shares the host\'s (-N / --net host)', 'drop -N, or drop user_net');
    return none;
  }
  const wantsLink = preset !== 'none' || allow.length > 0 || publish.length > 0 || userNet !== undefined;
  if (!wantsLink) return traffic.length > 0 ? { ...none, native: { rules: traffic.map(withoutName), gate: false } } : none;
  if (config.mode === 'EXECVE') {
    throw fieldProblem(loaded, ['mode'], '-Me (execve mode) leaves no supervisor to run the jail\'s network link', 'use the default mode (-Mo) for --net internet/limited, --allow, --publish and user_net');
  }
  const warnings: string[] = [];
  const dropCaps = capsToDrop(loaded, warnings);

  const link: LinkPlan = {
    ip4: userNet?.ip4 ?? LINK_DEFAULTS.ip4,
    gw4: userNet?.gw4 ?? LINK_DEFAULTS.gw4,
    mask4: LINK_DEFAULTS.mask4,
    ip6: userNet?.ip6 ?? LINK_DEFAULTS.ip6,
    gw6: userNet?.gw6 ?? LINK_DEFAULTS.gw6,
    iface: userNet?.nsIface ?? LINK_DEFAULTS.iface,
    ipv4: userNet?.pasta?.ip4Enabled ?? true,
    ipv6: userNet?.pasta?.ip6Enabled ?? true,
    tcp: userNet?.pasta?.enableTcp ?? true,
    udp: userNet?.pasta?.enableUdp ?? true,
    icmp: userNet?.pasta?.enableIcmp ?? true,
    dnsForward: null,
    publish: [...publish],
    tcpOut: [],
    udpOut: [],
  };
  const rules: NamedNetRule[] = [...traffic];
  const nat: NatRule[] = [];
  const env: string[] = [];
  let proxy: NetworkRuntime['proxy'] = null;
  const hosts = hostAddresses();

  if (allow.length > 0) {
    // Only what is listed: CIDRs by rule, domains through the proxy, nothing else (no DNS
    // either: the proxy resolves names itself, and DNS would be a way out of its own).
    rules.push(...allowRules(allow, hosts), ...blockRules(hosts), ...closeAll('not-allowed'));
    if (allow.some((a) => a.kind === 'domain')) {
      proxy = { allow };
      const url = `http://127.0.0.1:${PROXY_JAIL_PORT}`;
      for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) env.push(`${name}=${url}`, `${name.toLowerCase()}=${url}`);
      env.push('NO_PROXY=localhost,127.0.0.1,::1', 'no_proxy=localhost,127.0.0.1,::1');
    }
  } else if (preset === 'none' && userNet === undefined) {
    // Only --publish: servers in the jail are reachable, the jail reaches nothing.
    rules.push(...closeAll('publish-only'));
  } else {
    link.dnsForward = link.gw4;
    rules.push(...dnsRules(link.gw4));
    if (userNet) {
      const nstun = [nstunRules(loaded, userNet.rule4, 4, 'rule4', hosts), nstunRules(loaded, userNet.rule6, 6, 'rule6', hosts)];
      for (const n of nstun) {
        rules.push(...n.routing);
        warnings.push(...n.warnings);
      }
      // The DNS forwarder is decided before user_net's rules (its routing rule comes first).
      if (nstun.some((n) => n.nat.length > 0)) nat.push(...dnsKeep(link.gw4), ...nstun.flatMap((n) => n.nat));
      link.publish.push(...nstunInbound(loaded, userNet.rule4, 'rule4'), ...nstunInbound(loaded, userNet.rule6, 'rule6'));
      if (userNet.pasta) {
        link.publish.push(...pastaMapIn(loaded, userNet.pasta.tcpMapIn, 'tcp', 'tcp_map_in'), ...pastaMapIn(loaded, userNet.pasta.udpMapIn, 'udp', 'udp_map_in'));
        // Jail ports forwarded to the host's loopback: an opening the config names port by port.
        link.tcpOut.push(...pastaMapOut(loaded, userNet.pasta.tcpMapOut, 'tcp_map_out'));
        link.udpOut.push(...pastaMapOut(loaded, userNet.pasta.udpMapOut, 'udp_map_out'));
      }
    }
    rules.push(...blockRules(hosts));
    if (preset === 'limited') {
      for (const port of [80, 443]) {
        rules.push(rule('limited', 4, '', 'lookup', BAND.ports, { proto: TCP, dport: [port, port] }), rule('limited', 6, '', 'lookup', BAND.ports, { proto: TCP, dport: [port, port] }));
      }
      rules.push(...closeAll('limited'));
    }
  }
  const resolvConf = link.dnsForward ? `# written by jail: DNS goes through the jail's link to the host's resolver\nnameserver ${link.dnsForward}\n` : null;
  return { native: { rules: rules.map(withoutName), gate: true }, runtime: { link, ifaces: null, proxy, hostAddresses: hosts, rules, nat }, env, resolvConf, dropCaps, warnings };
}
