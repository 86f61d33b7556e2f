/**
 * nsjail's config.proto, declared once (docs/architecture.md §1). Every field of NsJailConfig and of its
 * messages IdMap, MountPt, Exe, TrafficRule, UserNet, NstunRule and Pasta is listed here with
 * its protobuf type, default, help text, unit and the command-line flags that set it. The text-proto, JSON and object parsers, the flags, the defaults,
 * `--help` and `jail config --help-fields` all read this table.
 *
 * Each message table is typed as `{ [K in keyof T]-?: FieldDef }` over the interface in
 * types.ts, so the compiler checks that the schema and the Config type name the same fields;
 * the key is the ProtoJSON (lowerCamelCase) name, `name` the proto (snake_case) name.
 *
 */
import { isIP } from 'node:net';
import type {
  Config,
  Exe,
  IdMap,
  MountPt,
  NstunRule,
  Pasta,
  TrafficRule,
  UserNet,
} from './types';
import { NET_PRESETS, type NetPreset } from './types';
import { checkAllow, checkPublish } from '../net/destination-check';
import {
  parseBindSpec,
  parseByteSize,
  parseCapName,
  parseChoice,
  parseCpus,
  parseEnvSpec,
  parseIdMapSpec,
  parseModeChar,
  parseMountSpec,
  parseSignedByteSize,
  parseSymlinkSpec,
  parseTmpfsSpec,
} from './flag-values';

export type ProtoType = 'string' | 'bytes' | 'bool' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'enum' | 'message';

export interface EnumDef {
  name: string;
  /** Value names; the index is the enum number (every nsjail enum is numbered 0..n-1). */
  values: readonly string[];
}

/** How a command-line flag sets its field. */
export type FlagApply =
  /** No argument; sets this value (for a message field: these fields, on top of defaults). */
  | { kind: 'set'; value: unknown }
  /** The argument parsed as the field's type (integers as C's strtoull(.., 0) reads them). */
  | { kind: 'value' }
  /** The argument parsed by a custom parser (nsjail's `src:dst` syntaxes, sizes, ...). */
  | { kind: 'parse'; parse: (arg: string) => unknown }
  /** An rlimit: a number in the field's unit, or soft|hard|inf|def|max -> the `*_type` field. */
  | { kind: 'rlimit' };

export interface FlagDef {
  /** commander syntax: '-t, --time_limit <sec>'. */
  flags: string;
  apply: FlagApply;
  /** Other fields this flag sets too (snake_case name -> value), e.g. `--port` -> mode LISTEN. */
  also?: Record<string, unknown>;
  /** Help text when it differs from the field's. */
  help?: string;
  /** Accepted but not listed in --help (aliases). */
  hidden?: boolean;
}

export interface FieldDef {
  /** Proto field name (snake_case), as written in sandbox.cfg. */
  readonly name: string;
  /** ProtoJSON name (lowerCamelCase); also the Config property. Set from the table key. */
  json: string;
  readonly type: ProtoType;
  readonly repeated: boolean;
  /** Default value; undefined = unset (an optional field without default). */
  readonly default: unknown;
  readonly enum?: EnumDef;
  /** For type 'message'. A thunk so that tables can be declared in any order. */
  readonly message?: () => MessageDef;
  readonly help: string;
  /** Unit of the number ("MiB", "s", "bytes"), shown in help. */
  readonly unit?: string;
  /** Bytes per unit for byte-valued rlimits (flags accept sizes like 8G for these). */
  readonly unitBytes?: number;
  /** Help section of the flags. */
  readonly group: string;
  readonly flags: readonly FlagDef[];
  /** Command-line only: nsjail keeps it outside the proto, so config files cannot set it. */
  readonly outside: boolean;
  /** jail's own field, not in nsjail's config.proto (config files may set it; nsjail would refuse them). */
  readonly extension: boolean;
  /** proto2 `required`. */
  readonly required: boolean;
  /** Extra validation of a converted value; returns an error message. */
  readonly check?: (value: unknown) => string | undefined;
}

export interface MessageDef {
  /** Proto message name, as in nsjail's errors ("NsJailConfig"). */
  readonly name: string;
  readonly fields: readonly FieldDef[];
  /** Lookup by proto name or ProtoJSON name (built lazily). */
  byName(name: string): FieldDef | undefined;
  byJson(name: string): FieldDef | undefined;
}

type FieldOpts = Partial<Omit<FieldDef, 'name' | 'json' | 'type' | 'flags'>> & {
  flags?: readonly FlagDef[];
  help: string;
};

function field(name: string, type: ProtoType, opts: FieldOpts): FieldDef {
  return {
    name,
    json: '',
    type,
    repeated: false,
    default: undefined,
    group: G.process,
    outside: false,
    extension: false,
    required: false,
    flags: [],
    ...opts,
  };
}

function message<T>(name: string, table: { [K in keyof T]-?: FieldDef }): MessageDef {
  const fields = Object.entries(table as Record<string, FieldDef>).map(([json, f]) => {
    f.json = json;
    return f;
  });
  let names: Map<string, FieldDef> | undefined;
  let jsons: Map<string, FieldDef> | undefined;
  return {
    name,
    fields,
    byName: (n) => (names ??= new Map(fields.map((f) => [f.name, f]))).get(n),
    byJson: (n) => (jsons ??= new Map(fields.map((f) => [f.json, f]))).get(n),
  };
}

const flag = (flags: string, apply: FlagApply = { kind: 'value' }, extra: Partial<FlagDef> = {}): FlagDef => ({
  flags,
  apply,
  ...extra,
});
const on = (flags: string, value: unknown = true, extra: Partial<FlagDef> = {}): FlagDef =>
  flag(flags, { kind: 'set', value }, extra);
const parsed = (flags: string, parse: (arg: string) => unknown, extra: Partial<FlagDef> = {}): FlagDef =>
  flag(flags, { kind: 'parse', parse }, extra);

/** Help sections, in the order `--help` lists them. */
export const G = {
  mode: 'Mode and command:',
  identity: 'Users and groups (user namespace):',
  fs: 'Filesystem:',
  process: 'Process:',
  env: 'Environment and privileges:',
  rlimit: 'Resource limits (setrlimit, soft = hard):',
  cgroup: 'cgroups:',
  ns: 'Namespaces:',
  net: 'Networking:',
  seccomp: 'Seccomp:',
  log: 'Logging:',
  persona: 'Personality:',
  listen: 'Listen mode (TCP server, -Ml):',
  info: 'Description:',
} as const;

const boolField = (name: string, def: boolean, help: string, group: string, flags: FlagDef[] = [], extra: Partial<FieldOpts> = {}) =>
  field(name, 'bool', { default: def, help, group, flags, ...extra });

// ---- enums ----

const MODE: EnumDef = { name: 'Mode', values: ['LISTEN', 'ONCE', 'RERUN', 'EXECVE'] };
const LOG_LEVEL: EnumDef = { name: 'LogLevel', values: ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'FATAL'] };
const RLIMIT: EnumDef = { name: 'RLimit', values: ['VALUE', 'SOFT', 'HARD', 'INF'] };
const TRAFFIC_ACTION: EnumDef = { name: 'TrafficRule.TrafficAction', values: ['UNKNOWN_ACTION', 'DROP', 'REJECT', 'ALLOW'] };
const TRAFFIC_PROTO: EnumDef = { name: 'TrafficRule.Protocol', values: ['UNKNOWN_PROTO', 'TCP', 'UDP', 'ICMP', 'ICMPV6'] };
const IP_FAMILY: EnumDef = { name: 'TrafficRule.IpFamily', values: ['IPV4', 'IPV6'] };
const BACKEND: EnumDef = { name: 'UserNet.Backend', values: ['NSTUN', 'PASTA'] };
const DIRECTION: EnumDef = { name: 'NstunRule.Direction', values: ['GUEST_TO_HOST', 'HOST_TO_GUEST'] };
const NSTUN_ACTION: EnumDef = {
  name: 'NstunRule.Action',
  values: ['DROP', 'REJECT', 'ALLOW', 'REDIRECT', 'ENCAP_SOCKS5', 'ENCAP_CONNECT'],
};
const NSTUN_PROTO: EnumDef = { name: 'NstunRule.Protocol', values: ['ANY', 'TCP', 'UDP', 'ICMP'] };

// ---- messages ----

export const ID_MAP: MessageDef = message<IdMap>('IdMap', {
  insideId: field('inside_id', 'string', {
    default: '',
    group: G.identity,
    help: 'uid/gid inside the jail, a number or a name (/etc/passwd, /etc/group); "" = the caller\'s id',
  }),
  outsideId: field('outside_id', 'string', {
    default: '',
    group: G.identity,
    help: 'uid/gid outside the jail it maps to, a number or a name; "" = the caller\'s id',
  }),
  count: field('count', 'uint32', { default: 1, group: G.identity, help: 'how many consecutive ids to map (less than 1 means 1)' }),
  useNewidmap: boolField('use_newidmap', false, 'write this map with /usr/bin/newuidmap or newgidmap (setuid helpers)', G.identity),
});

export const MOUNT_PT: MessageDef = message<MountPt>('MountPt', {
  src: field('src', 'string', { default: '', group: G.fs, help: 'source path on the host, or a device name for fstype mounts ("" = none)' }),
  prefixSrcEnv: field('prefix_src_env', 'string', { default: '', group: G.fs, help: "prefix src with the value of this environment variable of jail's caller" }),
  srcContent: field('src_content', 'bytes', { group: G.fs, help: 'write these bytes to a file and bind it at dst (read-only unless rw)' }),
  dst: field('dst', 'string', { default: '', required: true, group: G.fs, help: 'path inside the jail' }),
  prefixDstEnv: field('prefix_dst_env', 'string', { default: '', group: G.fs, help: "prefix dst with the value of this environment variable of jail's caller" }),
  fstype: field('fstype', 'string', { default: '', group: G.fs, help: 'filesystem type, e.g. tmpfs or proc ("" for bind mounts)' }),
  options: field('options', 'string', { default: '', group: G.fs, help: 'mount data, e.g. size=67108864 for tmpfs' }),
  isBind: boolField('is_bind', false, 'recursive private bind mount of src', G.fs),
  rw: boolField('rw', false, 'writable (read-only otherwise)', G.fs),
  isDir: field('is_dir', 'bool', {
    group: G.fs,
    help: 'whether the mount point is a directory; unset = guess (src_content: file, no src: dir, bind: whatever src is)',
  }),
  mandatory: boolField('mandatory', true, 'fail the launch if this mount fails (false: warn and skip it)', G.fs),
  isSymlink: boolField('is_symlink', false, 'create a symlink at dst pointing to src instead of mounting', G.fs),
  nosuid: boolField('nosuid', false, 'mount with MS_NOSUID', G.fs),
  nodev: boolField('nodev', false, 'mount with MS_NODEV', G.fs),
  noexec: boolField('noexec', false, 'mount with MS_NOEXEC', G.fs),
});

export const EXE: MessageDef = message<Exe>('Exe', {
  path: field('path', 'string', { default: '', required: true, group: G.mode, help: 'program to execute (no PATH search in nsjail; jail resolves bare names on PATH)' }),
  arg: field('arg', 'string', { repeated: true, group: G.mode, help: 'argv[1], argv[2], ...' }),
  arg0: field('arg0', 'string', { group: G.mode, help: 'argv[0] (default: path)' }),
  execFd: boolField('exec_fd', false, 'open path before jailing and execveat() the descriptor, so the binary need not be inside the jail', G.mode),
});

export const TRAFFIC_RULE: MessageDef = message<TrafficRule>('TrafficRule', {
  srcIp: field('src_ip', 'string', { default: '', group: G.net, help: 'source IP or CIDR' }),
  dstIp: field('dst_ip', 'string', { default: '', group: G.net, help: 'destination IP or CIDR' }),
  iif: field('iif', 'string', { default: '', group: G.net, help: 'input interface' }),
  oif: field('oif', 'string', { default: '', group: G.net, help: 'output interface' }),
  proto: field('proto', 'enum', { enum: TRAFFIC_PROTO, default: 'UNKNOWN_PROTO', group: G.net, help: 'protocol (UNKNOWN_PROTO = any)' }),
  sport: field('sport', 'uint32', { default: 0, group: G.net, help: 'source port (range start)' }),
  dport: field('dport', 'uint32', { default: 0, group: G.net, help: 'destination port (range start)' }),
  sportEnd: field('sport_end', 'uint32', { default: 0, group: G.net, help: 'source port range end' }),
  dportEnd: field('dport_end', 'uint32', { default: 0, group: G.net, help: 'destination port range end' }),
  action: field('action', 'enum', { enum: TRAFFIC_ACTION, default: 'DROP', group: G.net, help: 'DROP (blackhole), REJECT (unreachable) or ALLOW' }),
  ipFamily: field('ip_family', 'enum', { enum: IP_FAMILY, default: 'IPV4', group: G.net, help: 'IPV4 or IPV6' }),
});

export const NSTUN_RULE: MessageDef = message<NstunRule>('NstunRule', {
  direction: field('direction', 'enum', { enum: DIRECTION, default: 'GUEST_TO_HOST', group: G.net, help: 'GUEST_TO_HOST (outbound) or HOST_TO_GUEST (inbound)' }),
  action: field('action', 'enum', { enum: NSTUN_ACTION, default: 'ALLOW', group: G.net, help: 'what to do with matching traffic' }),
  proto: field('proto', 'enum', { enum: NSTUN_PROTO, default: 'ANY', group: G.net, help: 'protocol to match' }),
  srcIp: field('src_ip', 'string', { default: '', group: G.net, help: 'source IP or CIDR' }),
  sport: field('sport', 'uint32', { default: 0, group: G.net, help: 'source port (range start)' }),
  sportEnd: field('sport_end', 'uint32', { default: 0, group: G.net, help: 'source port range end' }),
  dstIp: field('dst_ip', 'string', { default: '', group: G.net, help: 'destination IP or CIDR' }),
  dport: field('dport', 'uint32', { default: 0, group: G.net, help: 'destination port (range start; listen port for HOST_TO_GUEST)' }),
  dportEnd: field('dport_end', 'uint32', { default: 0, group: G.net, help: 'destination port range end' }),
  redirectIp: field('redirect_ip', 'string', { default: '', group: G.net, help: 'target IP for REDIRECT and ENCAP_*' }),
  redirectPort: field('redirect_port', 'uint32', { default: 0, group: G.net, help: 'target port for REDIRECT and ENCAP_*' }),
});

const pastaBool = (name: string, def: boolean, help: string) => boolField(name, def, help, G.net);
const pastaStr = (name: string, def: string, help: string) => field(name, 'string', { default: def, group: G.net, help });

export const PASTA: MessageDef = message<Pasta>('Pasta', {
  nat: pastaBool('nat', true, 'full NAT mode (false: --splice-only, port mappings only)'),
  enableTcp: pastaBool('enable_tcp', true, 'forward TCP'),
  enableUdp: pastaBool('enable_udp', true, 'forward UDP'),
  enableIcmp: pastaBool('enable_icmp', true, 'forward ICMP'),
  ip4Enabled: pastaBool('ip4_enabled', true, 'enable IPv4'),
  mask4: pastaStr('mask4', '255.255.255.0', 'IPv4 netmask'),
  enableIp4Dhcp: pastaBool('enable_ip4_dhcp', false, 'IPv4 DHCP'),
  ip6Enabled: pastaBool('ip6_enabled', true, 'enable IPv6'),
  mask6: pastaStr('mask6', '64', 'IPv6 prefix length'),
  enableIp6Dhcp: pastaBool('enable_ip6_dhcp', false, 'DHCPv6'),
  enableIp6Ra: pastaBool('enable_ip6_ra', false, 'IPv6 router advertisements'),
  enableDns: pastaBool('enable_dns', false, 'announce DNS via DHCP/NDP'),
  dnsForward: pastaStr('dns_forward', '', 'DNS forwarding address'),
  mapGw: pastaBool('map_gw', true, 'map the gateway address to the host'),
  tcpMapIn: pastaStr('tcp_map_in', 'none', 'TCP ports forwarded host -> jail (pasta -t)'),
  udpMapIn: pastaStr('udp_map_in', 'none', 'UDP ports forwarded host -> jail (pasta -u)'),
  tcpMapOut: pastaStr('tcp_map_out', 'none', 'TCP ports forwarded jail -> host (pasta -T)'),
  udpMapOut: pastaStr('udp_map_out', 'none', 'UDP ports forwarded jail -> host (pasta -U)'),
});

export const USER_NET: MessageDef = message<UserNet>('UserNet', {
  backend: field('backend', 'enum', { enum: BACKEND, default: 'NSTUN', group: G.net, help: 'NSTUN (built-in userspace NAT) or PASTA (external pasta program)' }),
  ip4: pastaStr('ip4', '10.255.255.2', "the jail's IPv4 address"),
  gw4: pastaStr('gw4', '10.255.255.1', 'IPv4 gateway'),
  ip6: pastaStr('ip6', 'fc00::2', "the jail's IPv6 address"),
  gw6: pastaStr('gw6', 'fc00::1', 'IPv6 gateway'),
  nsIface: pastaStr('ns_iface', 'eth0', 'interface name inside the jail'),
  rule4: field('rule4', 'message', { message: () => NSTUN_RULE, repeated: true, group: G.net, help: 'IPv4 rules, first match wins, no match = allow' }),
  rule6: field('rule6', 'message', { message: () => NSTUN_RULE, repeated: true, group: G.net, help: 'IPv6 rules, first match wins, no match = allow' }),
  pasta: field('pasta', 'message', { message: () => PASTA, group: G.net, help: 'pasta backend settings (its presence selects pasta)' }),
});

// ---- NsJailConfig ----

const rlimit = (name: string, def: number, defType: string, unit: string, unitBytes: number, what: string) => {
  const shown = defType === 'VALUE' ? `${def}${unit ? ' ' + unit : ''}` : defType.toLowerCase();
  return {
    value: field(name, 'uint64', {
      default: def,
      unit,
      unitBytes,
      group: G.rlimit,
      help: `${what}${unit ? ` in ${unit}` : ''} (used when ${name}_type is VALUE)`,
      flags: [
        flag(`--${name} <${unit === 's' ? 'sec' : unit || 'n'}|soft|hard|inf>`, { kind: 'rlimit' }, {
          help: `${what}${unit ? ` in ${unit === 's' ? 'seconds' : unit}` : ''}; soft/def = the caller's soft limit, hard/max = its hard limit, inf = unlimited (default: ${shown})`,
        }),
      ],
    }),
    type: field(`${name}_type`, 'enum', {
      enum: RLIMIT,
      default: defType,
      group: G.rlimit,
      help: `how ${name} is chosen: VALUE (the number), SOFT/HARD (the caller's current limit), INF (unlimited)`,
    }),
  };
};

const AS = rlimit('rlimit_as', 4096, 'VALUE', 'MiB', 1 << 20, 'RLIMIT_AS, address space');
const CORE = rlimit('rlimit_core', 0, 'VALUE', 'MiB', 1 << 20, 'RLIMIT_CORE, core file size');
const CPU = rlimit('rlimit_cpu', 600, 'VALUE', 's', 0, 'RLIMIT_CPU, CPU time');
const FSIZE = rlimit('rlimit_fsize', 1, 'VALUE', 'MiB', 1 << 20, 'RLIMIT_FSIZE, largest file written');
const NOFILE = rlimit('rlimit_nofile', 32, 'VALUE', '', 0, 'RLIMIT_NOFILE, open files');
const NPROC = rlimit('rlimit_nproc', 1024, 'SOFT', '', 0, 'RLIMIT_NPROC, processes of the uid (system-wide)');
const STACK = rlimit('rlimit_stack', 8, 'SOFT', 'MiB', 1 << 20, 'RLIMIT_STACK, stack size');
const MEMLOCK = rlimit('rlimit_memlock', 64, 'SOFT', 'KiB', 1 << 10, 'RLIMIT_MEMLOCK, locked memory');
const RTPRIO = rlimit('rlimit_rtprio', 0, 'SOFT', '', 0, 'RLIMIT_RTPRIO, real-time priority');
const MSGQUEUE = rlimit('rlimit_msgqueue', 1024, 'SOFT', 'bytes', 1, 'RLIMIT_MSGQUEUE, POSIX message queue bytes');

const cloneField = (name: string, def: boolean, what: string, flags: FlagDef[]) =>
  boolField(name, def, `new ${what} namespace`, G.ns, flags);

const cgroupPath = (name: string, def: string, help: string, extra: Partial<FieldOpts> = {}) =>
  field(name, 'string', { default: def, group: G.cgroup, help, flags: [flag(`--${name} <${name.endsWith('parent') ? 'name' : 'path'}>`)], ...extra });

const persona = (name: string, what: string) =>
  boolField(name, false, `personality(${what})`, G.persona, [on(`--${name}`)]);

const capCheck = (v: unknown) => {
  try {
    parseCapName(v as string);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

export const NSJAIL_CONFIG: MessageDef = message<Config>('NsJailConfig', {
  name: field('name', 'string', { default: '', group: G.info, help: 'name of this config (informational)' }),
  description: field('description', 'string', { repeated: true, group: G.info, help: 'description lines (informational)' }),
  mode: field('mode', 'enum', {
    enum: MODE,
    default: 'ONCE',
    group: G.mode,
    help: 'ONCE: run the command once; EXECVE: become the command (no supervisor); LISTEN: serve it on a TCP port; RERUN: run it again and again',
    flags: [parsed('-M, --mode <l|o|e|r>', parseModeChar, { help: "execution mode, first letter counts: o = once, e = execve (no supervisor), l = listen on --port, r = rerun forever (default: o)" })],
  }),
  hostname: field('hostname', 'string', { default: 'NSJAIL', group: G.process, help: 'hostname inside the jail (needs clone_newuts)', flags: [flag('-H, --hostname <name>')] }),
  cwd: field('cwd', 'string', { default: '/', group: G.fs, help: 'working directory inside the jail', flags: [flag('-D, --cwd <dir>')] }),
  port: field('port', 'uint32', {
    default: 0,
    group: G.listen,
    help: 'TCP port to listen on (LISTEN mode; 0 = a free port the kernel picks, logged)',
    check: (v) => ((v as number) > 65535 ? `${v} is not a TCP port (0..65535)` : undefined),
    flags: [flag('-p, --port <port>', { kind: 'value' }, { also: { mode: 'LISTEN' }, help: 'TCP port to listen on; implies -Ml (default: 0)' })],
  }),
  bindhost: field('bindhost', 'string', {
    default: '::',
    group: G.listen,
    help: 'address to listen on (LISTEN mode; :: takes IPv4 and IPv6)',
    flags: [flag('--bindhost <ip>')],
    check: (v) => (isIP(v as string) === 0 ? `'${v}' is not an IP address; give an IPv4 or IPv6 address such as 127.0.0.1, ::1 or :: (every address)` : undefined),
  }),
  maxConns: field('max_conns', 'uint32', { default: 0, group: G.listen, help: 'most jails at once in LISTEN mode (0 = no limit)', flags: [flag('--max_conns <n>')] }),
  maxConnsPerIp: field('max_conns_per_ip', 'uint32', {
    default: 0,
    group: G.listen,
    help: 'most jails at once per client IP in LISTEN mode (0 = no limit)',
    flags: [flag('-i, --max_conns_per_ip <n>')],
  }),
  timeLimit: field('time_limit', 'uint32', {
    default: 600,
    unit: 's',
    group: G.process,
    help: 'wall-clock time limit; when it passes the whole jail is killed (0 = none)',
    flags: [flag('-t, --time_limit <sec>')],
  }),
  daemon: boolField('daemon', false, 'go to the background (logs default to /var/log/nsjail.log)', G.process, [on('-d, --daemon')]),
  maxCpus: field('max_cpus', 'uint32', { default: 0, group: G.process, help: 'pin the jail to this many randomly chosen CPUs (0 = no pinning)', flags: [flag('--max_cpus <n>')] }),
  niceLevel: field('nice_level', 'int32', {
    default: 19,
    group: G.process,
    help: 'nice value of the jailed process (-20 highest .. 19 lowest priority)',
    flags: [flag('--nice_level <n>')],
    check: (v) => ((v as number) < -20 || (v as number) > 19 ? `${v} is out of range: nice_level is -20 (highest priority) .. 19 (lowest)` : undefined),
  }),
  oomScoreAdj: field('oom_score_adj', 'int32', {
    group: G.process,
    help: "the jailed process's /proc/self/oom_score_adj (-1000..1000; unset = inherit)",
    flags: [flag('--oom_score_adj <n>')],
    check: (v) => ((v as number) < -1000 || (v as number) > 1000 ? `${v} is out of range: oom_score_adj is -1000..1000` : undefined),
  }),
  useCoreScheduling: boolField('use_core_scheduling', false, 'PR_SCHED_CORE_CREATE: no SMT sibling runs other code (kernel 5.14+)', G.process, [on('--use_core_scheduling')]),
  disableTsc: boolField('disable_tsc', false, 'PR_SET_TSC: rdtsc raises SIGSEGV (x86 only)', G.process, [on('--disable_tsc')]),
  forwardSignals: boolField('forward_signals', false, 'forward SIGINT/SIGTERM to the jail instead of killing it', G.process, [on('--forward_signals')]),
  skipSetsid: boolField('skip_setsid', false, "don't call setsid(): keeps the terminal for interactive shells (the jail can then inject input into it)", G.process, [on('--skip_setsid')]),
  silent: boolField('silent', false, "connect the program's stdin, stdout and stderr to /dev/null", G.process, [on('--silent')]),
  stderrToNull: boolField('stderr_to_null', false, "connect the program's stderr to /dev/null", G.process, [on('--stderr_to_null')]),
  passFd: field('pass_fd', 'int32', {
    repeated: true,
    group: G.process,
    help: 'keep this file descriptor open in the jail (0, 1 and 2 always are)',
    flags: [flag('--pass_fd <fd>')],
    check: (v) => ((v as number) < 0 ? `${v} is not a file descriptor` : undefined),
  }),
  logFd: field('log_fd', 'int32', { group: G.log, help: 'log to this file descriptor (default 2)', flags: [flag('-L, --log_fd <fd>')] }),
  logFile: field('log_file', 'string', { group: G.log, help: 'log to this file (appended)', flags: [flag('-l, --log <file>')] }),
  logLevel: field('log_level', 'enum', {
    enum: LOG_LEVEL,
    group: G.log,
    help: 'least severe messages logged (default INFO)',
    flags: [
      on('-v, --verbose', 'DEBUG', { help: 'log debug messages too (log_level DEBUG)' }),
      on('-q, --quiet', 'WARNING', { help: 'log warnings and errors only (log_level WARNING)' }),
      on('-Q, --really_quiet', 'FATAL', { help: 'log fatal errors only (log_level FATAL)' }),
    ],
  }),
  keepEnv: boolField('keep_env', false, "pass all of the caller's environment variables (default: start with an empty environment)", G.env, [on('-e, --keep_env')]),
  envar: field('envar', 'string', {
    repeated: true,
    group: G.env,
    help: "environment variable VAR=value, or a bare VAR to copy the caller's value (skipped if unset)",
    flags: [parsed('-E, --env <VAR[=value]>', parseEnvSpec)],
  }),
  keepCaps: boolField('keep_caps', false, 'keep every capability (default: drop all)', G.env, [on('--keep_caps')]),
  cap: field('cap', 'string', {
    repeated: true,
    group: G.env,
    help: 'keep this capability, e.g. CAP_NET_RAW',
    flags: [parsed('--cap <CAP_NAME>', parseCapName)],
    check: capCheck,
  }),
  disableNoNewPrivs: boolField('disable_no_new_privs', false, "don't set no_new_privs, so setuid binaries work (dangerous)", G.env, [on('--disable_no_new_privs')]),
  execBin: field('exec_bin', 'message', {
    message: () => EXE,
    group: G.mode,
    help: 'the program to run and its arguments, when not given after --',
    flags: [parsed('-x, --exec_file <path>', (path) => ({ path }), { help: 'program to execute; argv still comes from after -- (default: argv[0])' })],
  }),

  cloneNewnet: cloneField('clone_newnet', true, 'network (off: share the host network)', [on('-N, --disable_clone_newnet', false, { help: "don't create a network namespace: the jail shares the host network" })]),
  cloneNewuser: cloneField('clone_newuser', true, 'user', [on('--disable_clone_newuser', false, { help: "don't create a user namespace (needs root)" })]),
  cloneNewns: cloneField('clone_newns', true, 'mount', [on('--disable_clone_newns', false, { help: "don't create a mount namespace (only --chroot is applied)" })]),
  cloneNewpid: cloneField('clone_newpid', true, 'PID', [on('--disable_clone_newpid', false, { help: "don't create a PID namespace" })]),
  cloneNewipc: cloneField('clone_newipc', true, 'IPC', [on('--disable_clone_newipc', false, { help: "don't create an IPC namespace" })]),
  cloneNewuts: cloneField('clone_newuts', true, 'UTS (hostname)', [on('--disable_clone_newuts', false, { help: "don't create a UTS namespace (hostname is not set)" })]),
  cloneNewcgroup: cloneField('clone_newcgroup', true, 'cgroup', [on('--disable_clone_newcgroup', false, { help: "don't create a cgroup namespace" })]),
  cloneNewtime: cloneField('clone_newtime', false, 'time', [
    on('--enable_clone_newtime', true, { help: 'create a time namespace (off by default)' }),
    on('--clone_newtime', true, { hidden: true }),
  ]),
  noPivotroot: boolField('no_pivotroot', false, 'switch root with MS_MOVE + chroot instead of pivot_root (escapable, avoid)', G.fs, [on('--no_pivotroot')]),

  uidmap: field('uidmap', 'message', {
    message: () => ID_MAP,
    repeated: true,
    group: G.identity,
    help: 'uid map entries; the first inside_id is the uid the program runs as (default: the caller\'s uid -> itself)',
    flags: [
      parsed('-u, --user <inside[:outside[:count]]>', (a) => parseIdMapSpec(a, false), {
        help: "uid (or user name) inside the jail, optionally the host uid it maps to and a count; repeatable; the first is the program's uid (default: your uid)",
      }),
      parsed('-U, --uid_mapping <inside:outside:count>', (a) => parseIdMapSpec(a, true), { help: 'uid map entry written with /usr/bin/newuidmap; repeatable' }),
    ],
  }),
  gidmap: field('gidmap', 'message', {
    message: () => ID_MAP,
    repeated: true,
    group: G.identity,
    help: 'gid map entries; the first inside_id is the gid the program runs as (default: the caller\'s gid -> itself)',
    flags: [
      parsed('-g, --group <inside[:outside[:count]]>', (a) => parseIdMapSpec(a, false), {
        help: "gid (or group name) inside the jail, optionally the host gid it maps to and a count; repeatable (default: your gid)",
      }),
      parsed('-G, --gid_mapping <inside:outside:count>', (a) => parseIdMapSpec(a, true), { help: 'gid map entry written with /usr/bin/newgidmap; repeatable' }),
    ],
  }),

  mountProc: boolField('mount_proc', false, 'mount a fresh /proc (last, read-only unless --proc_rw); the command line turns it on by default, a config file does not', G.fs, [
    on('--disable_proc', false, { help: "don't mount /proc (the command line mounts it by default)" }),
  ]),
  mount: field('mount', 'message', {
    message: () => MOUNT_PT,
    repeated: true,
    group: G.fs,
    help: 'mounts, made in order on top of an empty root',
    flags: [
      parsed('-R, --bindmount_ro <src[:dst]>', (a) => parseBindSpec(a, false), { help: 'read-only recursive bind mount; repeatable' }),
      parsed('-B, --bindmount <src[:dst[:options]]>', (a) => parseBindSpec(a, true), { help: 'read-write recursive bind mount; repeatable' }),
      parsed('-T, --tmpfsmount <dst>', parseTmpfsSpec, { help: 'read-write tmpfs of 4 MiB (size=4194304); repeatable; for another size use -m none:dst:tmpfs:size=N' }),
      parsed('-m, --mount <src:dst:fstype[:options]>', parseMountSpec, { help: 'any mount, read-write, e.g. none:/tmp:tmpfs:size=8388608; repeatable' }),
      parsed('-s, --symlink <target:linkpath>', parseSymlinkSpec, { help: 'symlink at linkpath pointing to target; repeatable' }),
    ],
  }),

  rlimitAs: AS.value,
  rlimitAsType: AS.type,
  rlimitCore: CORE.value,
  rlimitCoreType: CORE.type,
  rlimitCpu: CPU.value,
  rlimitCpuType: CPU.type,
  rlimitFsize: FSIZE.value,
  rlimitFsizeType: FSIZE.type,
  rlimitNofile: NOFILE.value,
  rlimitNofileType: NOFILE.type,
  rlimitNproc: NPROC.value,
  rlimitNprocType: NPROC.type,
  rlimitStack: STACK.value,
  rlimitStackType: STACK.type,
  rlimitMemlock: MEMLOCK.value,
  rlimitMemlockType: MEMLOCK.type,
  rlimitRtprio: RTPRIO.value,
  rlimitRtprioType: RTPRIO.type,
  rlimitMsgqueue: MSGQUEUE.value,
  rlimitMsgqueueType: MSGQUEUE.type,
  disableRl: boolField('disable_rl', false, 'set no rlimits at all: inherit the caller\'s', G.rlimit, [on('--disable_rlimits')]),

  personaAddrCompatLayout: persona('persona_addr_compat_layout', 'ADDR_COMPAT_LAYOUT'),
  personaMmapPageZero: persona('persona_mmap_page_zero', 'MMAP_PAGE_ZERO'),
  personaReadImpliesExec: persona('persona_read_implies_exec', 'READ_IMPLIES_EXEC'),
  personaAddrLimit3gb: persona('persona_addr_limit_3gb', 'ADDR_LIMIT_3GB'),
  personaAddrNoRandomize: persona('persona_addr_no_randomize', 'ADDR_NO_RANDOMIZE: no ASLR'),

  cgroupMemMax: field('cgroup_mem_max', 'uint64', {
    default: 0,
    unit: 'bytes',
    group: G.cgroup,
    help: 'memory limit of the jail (memory.max / memory.limit_in_bytes; 0 = none)',
    flags: [
      parsed('--cgroup_mem_max <bytes>', parseByteSize, { help: 'memory limit in bytes, or a size like 512M (default: 0 = none)' }),
      parsed('--memory <size>', parseByteSize, { help: 'memory limit, Docker style: 512M, 1G, 1.5GiB (sets cgroup_mem_max)' }),
    ],
  }),
  cgroupMemMemswMax: field('cgroup_mem_memsw_max', 'uint64', {
    default: 0,
    unit: 'bytes',
    group: G.cgroup,
    help: 'memory + swap limit (0 = none; exclusive with cgroup_mem_swap_max)',
    flags: [parsed('--cgroup_mem_memsw_max <bytes>', parseByteSize)],
  }),
  cgroupMemSwapMax: field('cgroup_mem_swap_max', 'int64', {
    default: -1,
    unit: 'bytes',
    group: G.cgroup,
    help: 'swap limit (-1 = none; 0 = no swap; unset with a memory limit: 0)',
    flags: [parsed('--cgroup_mem_swap_max <bytes>', parseSignedByteSize)],
  }),
  cgroupMemMount: cgroupPath('cgroup_mem_mount', '/sys/fs/cgroup/memory', 'cgroup v1 memory hierarchy'),
  cgroupMemParent: cgroupPath('cgroup_mem_parent', 'NSJAIL', 'cgroup v1 memory cgroup (below the hierarchy) that jails are created in; created when missing'),
  cgroupPidsMax: field('cgroup_pids_max', 'uint64', {
    default: 0,
    group: G.cgroup,
    help: 'most processes and threads in the jail (pids.max; 0 = no limit)',
    flags: [flag('--cgroup_pids_max <n>'), flag('--pids <n>', { kind: 'value' }, { help: 'most processes and threads, Docker style (sets cgroup_pids_max)' })],
  }),
  cgroupPidsMount: cgroupPath('cgroup_pids_mount', '/sys/fs/cgroup/pids', 'cgroup v1 pids hierarchy'),
  cgroupPidsParent: cgroupPath('cgroup_pids_parent', 'NSJAIL', 'cgroup v1 pids cgroup (below the hierarchy) that jails are created in; created when missing'),
  cgroupNetClsClassid: field('cgroup_net_cls_classid', 'uint32', {
    default: 0,
    group: G.cgroup,
    help: 'net_cls.classid of the jail (cgroup v1 only; 0 = none)',
    flags: [flag('--cgroup_net_cls_classid <n>')],
  }),
  cgroupNetClsMount: cgroupPath('cgroup_net_cls_mount', '/sys/fs/cgroup/net_cls', 'cgroup v1 net_cls hierarchy'),
  cgroupNetClsParent: cgroupPath('cgroup_net_cls_parent', 'NSJAIL', 'cgroup v1 net_cls cgroup (below the hierarchy) that jails are created in; created when missing'),
  cgroupCpuMsPerSec: field('cgroup_cpu_ms_per_sec', 'uint32', {
    default: 0,
    unit: 'ms',
    group: G.cgroup,
    help: 'CPU time the jail may use per second of wall time (cpu.max; 1000 = one CPU; 0 = no limit)',
    flags: [flag('--cgroup_cpu_ms_per_sec <ms>'), parsed('--cpus <n>', parseCpus, { help: 'CPU limit, Docker style: 0.5 = half a CPU (sets cgroup_cpu_ms_per_sec)' })],
  }),
  cgroupCpuMount: cgroupPath('cgroup_cpu_mount', '/sys/fs/cgroup/cpu', 'cgroup v1 cpu hierarchy'),
  cgroupCpuParent: cgroupPath('cgroup_cpu_parent', 'NSJAIL', 'cgroup v1 cpu cgroup (below the hierarchy) that jails are created in; created when missing'),
  cgroupv2Mount: cgroupPath('cgroupv2_mount', '/sys/fs/cgroup', 'cgroup v2 cgroup that jails are created in (below JAIL/); unset: the caller\'s own cgroup'),
  useCgroupv2: boolField('use_cgroupv2', false, 'use cgroup v2', G.cgroup, [on('--use_cgroupv2')]),
  detectCgroupv2: boolField('detect_cgroupv2', false, 'use cgroup v2 if cgroupv2_mount is a cgroup2 filesystem', G.cgroup, [on('--detect_cgroupv2')]),

  net: field('net', 'string', {
    extension: true,
    default: 'none',
    group: G.net,
    help: "network preset: none (only loopback), host (the host's network, as -N), internet (public addresses only: never the host, loopback, private, link-local or metadata ranges), limited (internet, TCP 80 and 443 only)",
    check: (v) => (NET_PRESETS.includes(v as NetPreset) ? undefined : `'${v}' is not a network preset; use one of ${NET_PRESETS.join(', ')}`),
    flags: [flag('--net <preset>')],
  }),
  allow: field('allow', 'string', {
    extension: true,
    repeated: true,
    group: G.net,
    help: 'reach only these destinations: a domain (pypi.org, *.example.com) through jail\'s proxy, or an IP or CIDR, optionally :PORT',
    check: (v) => checkAllow(v as string),
    flags: [flag('--allow <dest>')],
  }),
  publish: field('publish', 'string', {
    extension: true,
    repeated: true,
    group: G.net,
    help: 'make a server in the jail reachable on the host: [HOSTIP:]HOSTPORT:JAILPORT[/tcp|/udp] (HOSTIP defaults to 127.0.0.1)',
    check: (v) => checkPublish(v as string),
    flags: [flag('--publish <spec>')],
  }),
  ifaceNoLo: boolField('iface_no_lo', false, "leave the loopback interface down", G.net, [on('--iface_no_lo')]),
  ifaceOwn: field('iface_own', 'string', {
    repeated: true,
    group: G.net,
    help: 'move this host interface into the jail (down, not configured; root only; physical interfaces return to the host\'s initial namespace when the jail ends, virtual ones are destroyed)',
    flags: [flag('--iface_own <ifname>')],
  }),
  macvlanIface: field('macvlan_iface', 'string', {
    group: G.net,
    help: "create a MACVLAN interface 'vs' on this host interface inside the jail (root only; no blocklist: only traffic_rule applies)",
    flags: [flag('-I, --macvlan_iface <ifname>')],
  }),
  macvlanVsIp: field('macvlan_vs_ip', 'string', { default: '192.168.0.2', group: G.net, help: "IPv4 address of 'vs' (0.0.0.0: leave 'vs' down and unconfigured)", flags: [flag('--macvlan_vs_ip <ip>')] }),
  macvlanVsNm: field('macvlan_vs_nm', 'string', { default: '255.255.255.0', group: G.net, help: "netmask of 'vs'", flags: [flag('--macvlan_vs_nm <mask>')] }),
  macvlanVsGw: field('macvlan_vs_gw', 'string', { default: '192.168.0.1', group: G.net, help: "default gateway of 'vs' (0.0.0.0: no default route)", flags: [flag('--macvlan_vs_gw <ip>')] }),
  macvlanVsMa: field('macvlan_vs_ma', 'string', { default: '', group: G.net, help: "MAC address of 'vs' (\"\" = random)", flags: [flag('--macvlan_vs_ma <mac>')] }),
  macvlanVsMo: field('macvlan_vs_mo', 'string', {
    default: 'private',
    group: G.net,
    help: "MACVLAN mode of 'vs': private, vepa, bridge or passthru",
    flags: [parsed('--macvlan_vs_mo <mode>', (a) => parseChoice(a, ['private', 'vepa', 'bridge', 'passthru']))],
  }),
  trafficRule: field('traffic_rule', 'message', { message: () => TRAFFIC_RULE, repeated: true, group: G.net, help: 'policy-routing rules in the jail network namespace (later rules win)' }),
  userNet: field('user_net', 'message', {
    message: () => USER_NET,
    group: G.net,
    help: "user-mode networking without root, through pasta (both of nsjail's backends); jail's blocklist applies as with --net internet; an empty user_net {} turns it on",
    flags: [on('--user_net', {}, { help: 'user-mode networking (as --net internet, with nsjail\'s addresses and rules)' })],
  }),

  seccompPolicyFile: field('seccomp_policy_file', 'string', { group: G.seccomp, help: 'kafel seccomp policy file', flags: [flag('-P, --seccomp_policy <file>')] }),
  seccompString: field('seccomp_string', 'string', {
    repeated: true,
    group: G.seccomp,
    help: 'kafel seccomp policy text; several are joined with newlines; not together with a policy file',
    flags: [flag('--seccomp_string <policy>')],
  }),
  seccompLog: boolField('seccomp_log', false, 'SECCOMP_FILTER_FLAG_LOG: log every non-ALLOW action to the audit log', G.seccomp, [on('--seccomp_log')]),
  seccompUnotify: boolField(
    'seccomp_unotify',
    false,
    "notify the supervisor of file and network syscalls (events, counts in the exit report, and nsjail's unotify report at the end)",
    G.seccomp,
    [on('--seccomp_unotify')],
  ),
  seccompUnotifyReport: field('seccomp_unotify_report', 'string', {
    group: G.seccomp,
    help: 'also write the seccomp_unotify report (protobuf text) to this file, created or truncated before the jail starts',
    flags: [flag('--seccomp_unotify_report <file>')],
  }),

  chroot: field('chroot', 'string', {
    outside: true,
    group: G.fs,
    help: 'directory that becomes / (a bind mount placed before every other mount)',
    flags: [flag('-c, --chroot <dir>')],
  }),
  rw: boolField('rw', false, 'make the --chroot bind and the root tmpfs writable', G.fs, [on('--rw')], { outside: true }),
  procPath: field('proc_path', 'string', {
    default: '/proc',
    outside: true,
    group: G.fs,
    help: 'where /proc is mounted',
    flags: [flag('--proc_path <path>', { kind: 'value' }, { also: { mount_proc: true }, help: 'mount /proc at this path instead (turns the /proc mount on)' })],
  }),
  procRw: boolField('proc_rw', false, 'mount /proc read-write', G.fs, [on('--proc_rw')], { outside: true }),
  executeFd: boolField('execute_fd', false, 'open the program before jailing and execveat() the descriptor (exec_bin.exec_fd)', G.mode, [on('--execute_fd')], {
    outside: true,
  }),
});

/** Every message of the schema, NsJailConfig first. */
export const MESSAGES: readonly MessageDef[] = [NSJAIL_CONFIG, ID_MAP, MOUNT_PT, EXE, TRAFFIC_RULE, USER_NET, NSTUN_RULE, PASTA];

/** A fresh object holding every default of `def` (unset fields absent, lists empty). */
export function defaultsOf(def: MessageDef): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of def.fields) {
    if (f.repeated) out[f.json] = [];
    else if (f.default !== undefined) out[f.json] = f.default;
  }
  return out;
}

/** protobuf's ToJsonName: drop each '_' and upper-case the character after it. */
export function toJsonName(snake: string): string {
  return snake.replace(/_(.)/g, (_, c: string) => c.toUpperCase());
}
