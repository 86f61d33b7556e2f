/**
 * `Config`: what the user asked for, in nsjail's vocabulary (config.proto field names, in the
 * lowerCamelCase that ProtoJSON uses), with every default applied. It is produced by the config
 * stage from a sandbox.cfg file, a JSON file, command-line flags or a plain library object, and
 * consumed by the sandbox stage, which turns it into a JailPlan.
 *
 * Integers are JS numbers (the config stage range-checks them per protobuf type; values above
 * 2^53 are rejected rather than rounded). Enums are their protobuf names.
 */
import type { SourceSpan } from '../errors';

export type Mode = 'LISTEN' | 'ONCE' | 'RERUN' | 'EXECVE';
export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'FATAL';
/** nsjail's RLimit enum: VALUE uses the number, SOFT/HARD the caller's current soft/hard limit. */
export type RLimitType = 'VALUE' | 'SOFT' | 'HARD' | 'INF';

export interface IdMap {
  insideId: string; // "" = the caller's id; names resolved like getpwnam/getgrnam
  outsideId: string; // "" = the caller's id
  count: number; // uint32, default 1 (count < 1 means 1)
  useNewidmap: boolean; // write through /usr/bin/new[ug]idmap
}

/** The network presets of `--net`. */
export const NET_PRESETS = ['none', 'host', 'internet', 'limited'] as const;
export type NetPreset = (typeof NET_PRESETS)[number];

export interface MountPt {
  src: string; // "" = none
  prefixSrcEnv: string;
  srcContent?: Uint8Array; // bytes: written to a file and bound at dst
  dst: string; // required
  prefixDstEnv: string;
  fstype: string;
  options: string;
  isBind: boolean;
  rw: boolean;
  isDir?: boolean; // unset = heuristic (src_content -> file, no src -> dir, bind -> stat(src))
  mandatory: boolean; // default true
  isSymlink: boolean;
  nosuid: boolean;
  nodev: boolean;
  noexec: boolean;
}

export interface Exe {
  path: string;
  arg: string[];
  arg0?: string;
  execFd: boolean;
}

export type TrafficAction = 'UNKNOWN_ACTION' | 'DROP' | 'REJECT' | 'ALLOW';
export type TrafficProto = 'UNKNOWN_PROTO' | 'TCP' | 'UDP' | 'ICMP' | 'ICMPV6';
export type IpFamily = 'IPV4' | 'IPV6';

export interface TrafficRule {
  srcIp: string;
  dstIp: string;
  iif: string;
  oif: string;
  proto: TrafficProto;
  sport: number;
  dport: number;
  sportEnd: number;
  dportEnd: number;
  action: TrafficAction;
  ipFamily: IpFamily;
}

export interface NstunRule {
  direction: 'GUEST_TO_HOST' | 'HOST_TO_GUEST';
  action: 'DROP' | 'REJECT' | 'ALLOW' | 'REDIRECT' | 'ENCAP_SOCKS5' | 'ENCAP_CONNECT';
  proto: 'ANY' | 'TCP' | 'UDP' | 'ICMP';
  srcIp: string;
  sport: number;
  sportEnd: number;
  dstIp: string;
  dport: number;
  dportEnd: number;
  redirectIp: string;
  redirectPort: number;
}

export interface Pasta {
  nat: boolean;
  enableTcp: boolean;
  enableUdp: boolean;
  enableIcmp: boolean;
  ip4Enabled: boolean;
  mask4: string;
  enableIp4Dhcp: boolean;
  ip6Enabled: boolean;
  mask6: string;
  enableIp6Dhcp: boolean;
  enableIp6Ra: boolean;
  enableDns: boolean;
  dnsForward: string;
  mapGw: boolean;
  tcpMapIn: string;
  udpMapIn: string;
  tcpMapOut: string;
  udpMapOut: string;
}

export interface UserNet {
  backend: 'NSTUN' | 'PASTA';
  ip4: string;
  gw4: string;
  ip6: string;
  gw6: string;
  nsIface: string;
  rule4: NstunRule[];
  rule6: NstunRule[];
  pasta?: Pasta;
}

/** nsjail's NsJailConfig, every field, plus the few settings nsjail keeps outside the proto. */
export interface Config {
  name: string;
  description: string[];
  mode: Mode;
  hostname: string;
  cwd: string;
  port: number;
  bindhost: string;
  maxConns: number;
  maxConnsPerIp: number;
  timeLimit: number; // seconds, 0 = none
  daemon: boolean;
  maxCpus: number;
  niceLevel: number;
  oomScoreAdj?: number;
  useCoreScheduling: boolean;
  disableTsc: boolean;
  forwardSignals: boolean;
  skipSetsid: boolean;
  silent: boolean;
  stderrToNull: boolean;
  passFd: number[];
  logFd?: number;
  logFile?: string;
  logLevel?: LogLevel;
  keepEnv: boolean;
  envar: string[]; // "K=V" or bare "K" (copy the caller's value)
  keepCaps: boolean;
  cap: string[]; // "CAP_NET_ADMIN" style
  disableNoNewPrivs: boolean;
  execBin?: Exe;

  cloneNewnet: boolean;
  cloneNewuser: boolean;
  cloneNewns: boolean;
  cloneNewpid: boolean;
  cloneNewipc: boolean;
  cloneNewuts: boolean;
  cloneNewcgroup: boolean;
  cloneNewtime: boolean;
  noPivotroot: boolean;

  uidmap: IdMap[];
  gidmap: IdMap[];

  mountProc: boolean;
  mount: MountPt[];

  rlimitAs: number; // MiB
  rlimitAsType: RLimitType;
  rlimitCore: number; // MiB
  rlimitCoreType: RLimitType;
  rlimitCpu: number; // seconds
  rlimitCpuType: RLimitType;
  rlimitFsize: number; // MiB
  rlimitFsizeType: RLimitType;
  rlimitNofile: number;
  rlimitNofileType: RLimitType;
  rlimitNproc: number;
  rlimitNprocType: RLimitType;
  rlimitStack: number; // MiB
  rlimitStackType: RLimitType;
  rlimitMemlock: number; // KiB
  rlimitMemlockType: RLimitType;
  rlimitRtprio: number;
  rlimitRtprioType: RLimitType;
  rlimitMsgqueue: number; // bytes
  rlimitMsgqueueType: RLimitType;
  disableRl: boolean;

  personaAddrCompatLayout: boolean;
  personaMmapPageZero: boolean;
  personaReadImpliesExec: boolean;
  personaAddrLimit3gb: boolean;
  personaAddrNoRandomize: boolean;

  cgroupMemMax: number; // bytes, 0 = off
  cgroupMemMemswMax: number; // bytes, 0 = off
  cgroupMemSwapMax: number; // bytes, -1 = off
  cgroupMemMount: string;
  cgroupMemParent: string;
  cgroupPidsMax: number; // 0 = off
  cgroupPidsMount: string;
  cgroupPidsParent: string;
  cgroupNetClsClassid: number; // 0 = off
  cgroupNetClsMount: string;
  cgroupNetClsParent: string;
  cgroupCpuMsPerSec: number; // 0 = off
  cgroupCpuMount: string;
  cgroupCpuParent: string;
  cgroupv2Mount: string;
  useCgroupv2: boolean;
  detectCgroupv2: boolean;

  /** jail's network preset (NET_PRESETS). */
  net: NetPreset;
  allow: string[];
  publish: string[];
  ifaceNoLo: boolean;
  ifaceOwn: string[];
  macvlanIface?: string;
  macvlanVsIp: string;
  macvlanVsNm: string;
  macvlanVsGw: string;
  macvlanVsMa: string;
  macvlanVsMo: string;
  trafficRule: TrafficRule[];
  userNet?: UserNet;

  seccompPolicyFile?: string;
  seccompString: string[];
  seccompLog: boolean;
  seccompUnotify: boolean;
  seccompUnotifyReport?: string;

  // ---- nsjail keeps these outside the proto (command line only); they survive --config ----
  /** --chroot DIR: becomes a bind mount of DIR at "/" placed before every other mount. */
  chroot?: string;
  /** --rw: the chroot bind and the root tmpfs are writable. */
  rw: boolean;
  /** --proc_path: where /proc is mounted when mountProc is on. */
  procPath: string;
  /** --proc_rw: mount /proc read-write. */
  procRw: boolean;
  /** --execute_fd given on the command line (same meaning as execBin.execFd). */
  executeFd: boolean;
}

/** Field path ("mount.2.src", "time_limit") -> where its value came from. */
export type SpanMap = Map<string, SourceSpan>;

/** A Config together with where each value came from, as loadConfig returns it. */
export interface LoadedConfig {
  config: Config;
  spans: SpanMap;
  /** Fields that were explicitly set (snake_case paths), for precedence. */
  setFields: Set<string>;
  /**
   * Field path -> the command-line flag that set it ("--time_limit"), for values that came from
   * flags rather than a file (they have no span). Absent when no flag was involved.
   */
  flags?: Map<string, string>;
}
