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
 */
import { capabilityNumber } from '../config/caps';
import { fieldProblem } from '../config/finish';
import type { Config, LoadedConfig, NstunRule, TrafficRule } from '../config/types';
import { BLOCKED_RANGES, hostAddresses as hostAddressList, insideBlocklist } from './blocklist';
import { parseCidr, formatCidr } from './cidr';
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
export interface NetworkRuntime {
  link: LinkPlan;
  /** The allow-list proxy (domains in --allow), or null. */
  proxy: { allow: AllowRule[] } | null;
  /** The host's own addresses when planned: never reachable from the jail. */
  hostAddresses: string[];
  /** The plan's rules with their names, to say which one decided a connection (src/net/watch.ts). */
  rules: NamedNetRule[];
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

/** nsjail's user_net rule4/rule6 that map onto routing rules (first match wins). */
function nstunRules(loaded: LoadedConfig, list: NstunRule[], family: 4 | 6, field: string): NamedNetRule[] {
  return list.filter((r) => r.direction === 'GUEST_TO_HOST').map((r, i) => {
    const path = [`user_net.${field}.${list.indexOf(r)}`];
    if (!['DROP', 'REJECT', 'ALLOW'].includes(r.action)) {
      throw fieldProblem(
        loaded,
        path,
        `user_net ${field} action ${r.action} is not supported yet: jail enforces outbound user_net rules as routing rules (DROP, REJECT, ALLOW), which cannot rewrite or tunnel a connection`,
        'for a proxy use --allow DOMAIN (jail runs one); to reach a host service, publish it or allow its CIDR',
      );
    }
    const icmp = r.proto === 'ICMP' && family === 6 ? 58 : NSTUN_PROTO[r.proto];
    return rule(`user_net.${field}[${list.indexOf(r)}]`, family, r.dstIp, TRAFFIC_ACTION[r.action], BAND.nstun + Math.min(i, 499), {
      src: r.srcIp,
      proto: icmp,
      dport: portRange(r.dport, r.dportEnd),
      sport: portRange(r.sport, r.sportEnd),
    });
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

export function planNetwork(loaded: LoadedConfig, hostAddresses: () => string[] = hostAddressList): NetworkPlan {
  const { config } = loaded;
  const preset = effectivePreset(loaded);
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
      rules.push(...nstunRules(loaded, userNet.rule4, 4, 'rule4'), ...nstunRules(loaded, userNet.rule6, 6, 'rule6'));
      link.publish.push(...nstunInbound(loaded, userNet.rule4, 'rule4'), ...nstunInbound(loaded, userNet.rule6, 'rule6'));
      if (userNet.pasta) {
        link.publish.push(...pastaMapIn(loaded, userNet.pasta.tcpMapIn, 'tcp', 'tcp_map_in'), ...pastaMapIn(loaded, userNet.pasta.udpMapIn, 'udp', 'udp_map_in'));
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
  return { native: { rules: rules.map(withoutName), gate: true }, runtime: { link, proxy, hostAddresses: hosts, rules }, env, resolvConf, dropCaps, warnings };
}
