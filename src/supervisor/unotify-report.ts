/**
 * nsjail's seccomp_unotify report: which paths and network endpoints the jail's file and network
 * syscalls named, how, and how often, printed at the end as `unotify report:` in protobuf text
 * format (nsjail's unotify.Stat message) and written to seccomp_unotify_report when set.
 *
 * The jail is gone when the report is printed, so each notification is looked at while its
 * syscall waits for the answer (native/unotify.cc reads the path strings and addresses): a
 * relative path is resolved against the target's cwd or dirfd as /proc shows them, which is as
 * seen from inside the jail (its own mount namespace), and its type is taken with lstat through
 * /proc/<pid>/root (in the jail) and on the host path (on the host), as nsjail does. Differences
 * from nsjail: execve's argv and envp are not read (the report would copy secrets), an empty path
 * names its dirfd (glibc's fstat is newfstatat(fd, "", AT_EMPTY_PATH)), and entries that differ
 * only by extra open flags are one entry (the flags are still in each syscall's args).
 * Intermediate absolute symlinks in a jail path resolve on the host's side of /proc/<pid>/root,
 * as in nsjail: the jail type of a path under such a link may be wrong.
 */
import * as fs from 'node:fs';
import { JailError } from '../errors';
import type { SeccompNotification } from '../native/types';
import { formatIp } from '../net/cidr';
import { decodeSockaddr } from '../net/watch';
import type { Logger } from './log';
import { describeViolation } from './violation';

export type PathType = 'UNKNOWN' | 'NONEXISTENT' | 'REGULAR' | 'DIR' | 'CHR' | 'BLK' | 'FIFO' | 'LINK' | 'SOCK';
export type AccessMode = 'RDONLY' | 'WRONLY' | 'RDWR';
export type NetType = 'IPV4' | 'IPV6' | 'UNIX' | 'NETLINK';

/** One way a syscall named a resource: its name and decoded arguments, and how many times. */
export interface SyscallUse {
  name: string;
  args: string[];
  count: number;
}

export interface PathInfo {
  /** Absolute, as the jail sees it (relative only when its directory could not be read). */
  path: string;
  existsInJail: boolean;
  existsInMain: boolean;
  jailType: PathType;
  mainType: PathType;
  /** From the open flags; absent for syscalls that do not open. */
  mode?: AccessMode;
}

export interface PathAccess extends PathInfo {
  count: number;
  syscalls: SyscallUse[];
}

export interface NetAccess {
  type: NetType;
  /** The address, the unix socket's path (`@name` when abstract), or a word for what has none. */
  endpoint: string;
  /** TCP and UDP (stream and datagram sockets of IPv4/IPv6) only. */
  port?: number;
  /** A unix socket with a path: that path, as a file. */
  socketPath?: PathInfo;
  count: number;
  syscalls: SyscallUse[];
}

/** The report (nsjail's unotify.Stat): paths then endpoints, each sorted as nsjail sorts them. */
export interface UnotifyStat {
  fsAccess: PathAccess[];
  netAccess: NetAccess[];
}

/** What one notified syscall named. Strings are byte strings (latin1): paths need not be UTF-8. */
export interface Access {
  name: string;
  args: string[];
  /** Each path with the args only it has (open's extra flags). */
  paths: { info: PathInfo; extraArgs: string[] }[];
  net?: Omit<NetAccess, 'count' | 'syscalls'>;
}

/** The file system as the supervisor sees it, so that accessOf can be tested without a jail. */
export interface Probe {
  /** The text of a symbolic link, or null. */
  readlink(path: string): string | null;
  /** lstat's file type; NONEXISTENT when lstat fails (as nsjail). */
  lstatType(path: string): PathType;
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');

function typeOfMode(mode: number): PathType {
  const kinds: Record<number, PathType> = { 0o100000: 'REGULAR', 0o040000: 'DIR', 0o020000: 'CHR', 0o060000: 'BLK', 0o010000: 'FIFO', 0o120000: 'LINK', 0o140000: 'SOCK' };
  return kinds[mode & 0o170000] ?? 'UNKNOWN';
}

/** The real file system; byte-string paths go to the kernel unchanged. */
export const hostProbe: Probe = {
  readlink(p) {
    try {
      return fs.readlinkSync(latin1(p), { encoding: 'buffer' }).toString('latin1');
    } catch {
      return null;
    }
  },
  lstatType(p) {
    try {
      // Not thrown for ENOENT, the common case (a search path probing for files): an exception
      // costs more than the lstat.
      const st = fs.lstatSync(latin1(p), { throwIfNoEntry: false });
      return st ? typeOfMode(st.mode) : 'NONEXISTENT';
    } catch {
      return 'NONEXISTENT';
    }
  },
};

const AT_FDCWD = -100;

/** `raw` made absolute against the target's cwd or dirfd; an empty path names the directory itself. */
function resolvePath(pid: number, raw: string, dirfd: number | undefined, probe: Probe): string {
  if (raw.startsWith('/')) return raw;
  const base = probe.readlink(dirfd === undefined || dirfd === AT_FDCWD ? `/proc/${pid}/cwd` : `/proc/${pid}/fd/${dirfd}`);
  if (base === null) return raw;
  if (raw === '') return base;
  return base.endsWith('/') ? base + raw : `${base}/${raw}`;
}

function pathInfo(pid: number, path: string, probe: Probe): PathInfo {
  // Not absolute: a directory /proc could not show, or an fd that is no file (pipe:[N]).
  const jailType = path.startsWith('/') ? probe.lstatType(`/proc/${pid}/root${path}`) : 'UNKNOWN';
  const mainType = path.startsWith('/') ? probe.lstatType(path) : 'UNKNOWN';
  const exists = (t: PathType) => t !== 'NONEXISTENT' && t !== 'UNKNOWN';
  return { path, existsInJail: exists(jailType), existsInMain: exists(mainType), jailType, mainType };
}

// open(2) flags past the access mode, by their kernel values: asm-generic's (x86_64), with
// arm64's own four. nsjail prints them as `mode_extra`.
const OPEN_FLAGS: [string, number][] = [
  ['O_CREAT', 0o100], ['O_EXCL', 0o200], ['O_NOCTTY', 0o400], ['O_TRUNC', 0o1000], ['O_APPEND', 0o2000], ['O_NONBLOCK', 0o4000],
  ['O_DSYNC', 0o10000], ['FASYNC', 0o20000], ['O_DIRECT', 0o40000], ['O_LARGEFILE', 0o100000], ['O_DIRECTORY', 0o200000],
  ['O_NOFOLLOW', 0o400000], ['O_NOATIME', 0o1000000], ['O_CLOEXEC', 0o2000000], ['O_SYNC', 0o4010000], ['O_PATH', 0o10000000],
  ['O_TMPFILE', 0o20200000],
];
const ARM64_OPEN_FLAGS: Record<string, number> = { O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_DIRECT: 0o200000, O_LARGEFILE: 0o400000, O_TMPFILE: 0o20040000 };

export function openFlagNames(flags: number, arch: string | null): string[] {
  const value = (name: string, v: number) => (arch === 'aarch64' ? (ARM64_OPEN_FLAGS[name] ?? v) : v);
  return OPEN_FLAGS.filter(([name, v]) => (flags & value(name, v)) === value(name, v)).map(([name]) => name);
}

const ACCESS_MODES: (AccessMode | undefined)[] = ['RDONLY', 'WRONLY', 'RDWR', undefined];

const ACCESS_BITS: [string, number][] = [['R_OK', 4], ['W_OK', 2], ['X_OK', 1]];
const accessText = (v: number) => `mode=${v === 0 ? 'F_OK' : ACCESS_BITS.filter(([, bit]) => v & bit).map(([name]) => name).join('|')}`;
const octal = (v: number) => `mode=0${v.toString(8)}`;
const owner = (v: number) => `owner=${v | 0}`;
const group = (v: number) => `group=${v | 0}`;

/** The value arguments nsjail prints, by syscall: [register, how]. Paths and dirfds come from the addon. */
const VALUE_ARGS: Record<string, [number, (v: number) => string][]> = {
  access: [[1, accessText]], faccessat: [[2, accessText]],
  chmod: [[1, octal]], fchmodat: [[2, octal]], mkdir: [[1, octal]], mkdirat: [[2, octal]], mknod: [[1, octal]], mknodat: [[2, octal]],
  chown: [[1, owner], [2, group]], lchown: [[1, owner], [2, group]], fchownat: [[2, owner], [3, group]],
};
/** Where the open flags are: a register, or openat2's struct open_how (read by the addon). */
const OPEN_FLAGS_ARG: Record<string, number | 'how'> = { open: 1, openat: 2, openat2: 'how' };
/** nsjail's names where they differ from kafel's. */
const DISPLAY_NAMES: Record<string, string> = { newstat: 'stat', newlstat: 'lstat' };

const SOCK_TYPES: Record<number, string> = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 5: 'SOCK_SEQPACKET' };
const AF_UNIX = 1;
const AF_NETLINK = 16;
const SUN_PATH_MAX = 108;

function netOf(n: SeccompNotification, sockaddr: Buffer, probe: Probe): Access['net'] {
  if (sockaddr.length < 2) return undefined;
  const family = sockaddr.readUInt16LE(0);
  const ip = decodeSockaddr(sockaddr);
  if (ip) {
    const hasPort = n.socketType === 1 || n.socketType === 2;
    return { type: ip.address.family === 4 ? 'IPV4' : 'IPV6', endpoint: formatIp(ip.address), ...(hasPort ? { port: ip.port } : {}) };
  }
  if (family === AF_NETLINK) return { type: 'NETLINK', endpoint: 'NETLINK' };
  if (family !== AF_UNIX) return undefined;
  const sunPath = sockaddr.subarray(2, 2 + SUN_PATH_MAX);
  if (sunPath.length === 0) return { type: 'UNIX', endpoint: 'anonymous unix socket' };
  if (sunPath[0] === 0) return { type: 'UNIX', endpoint: `@${sunPath.subarray(1).toString('latin1')}` };
  const nul = sunPath.indexOf(0);
  const path = resolvePath(n.pid, sunPath.subarray(0, nul < 0 ? undefined : nul).toString('latin1'), undefined, probe);
  return { type: 'UNIX', endpoint: path, socketPath: pathInfo(n.pid, path, probe) };
}

/**
 * What one notification named, or null when it names nothing the report shows (socket(), a
 * syscall of another architecture, a path the addon could not read).
 */
export function accessOf(n: SeccompNotification, probe: Probe): Access | null {
  const { syscall, arch } = describeViolation(n.arch, n.nr);
  if (syscall === null) return null;
  const name = DISPLAY_NAMES[syscall] ?? syscall;
  const sockaddr = n.sockaddr ?? n.bindAddr;
  if (sockaddr) {
    const net = netOf(n, sockaddr, probe);
    if (!net) return null;
    const args = [`fd=${Number(BigInt.asIntN(32, n.args[0]))}`];
    if (n.socketType !== undefined && n.socketType >= 0) args.push(`type=${SOCK_TYPES[n.socketType] ?? `SOCK_TYPE_${n.socketType}`}`);
    if (syscall === 'sendto') args.push(`flags=${Number(BigInt.asIntN(32, n.args[3]))}`);
    return { name, args, paths: [], net };
  }
  if (!n.paths) return null;
  const reg = (i: number) => Number(BigInt.asUintN(32, n.args[i]));
  const args = n.paths.filter((p) => p.dirfd !== undefined).map((p) => `dirfd=${p.dirfd === AT_FDCWD ? 'AT_FDCWD' : p.dirfd}`);
  for (const [i, text] of VALUE_ARGS[syscall] ?? []) args.push(text(reg(i)));
  const flagsAt = OPEN_FLAGS_ARG[syscall];
  const flags = flagsAt === undefined ? undefined : flagsAt === 'how' ? (n.openHowFlags === undefined ? undefined : Number(BigInt.asUintN(32, n.openHowFlags))) : reg(flagsAt);
  const paths = n.paths.map((p, i) => {
    const info = pathInfo(n.pid, resolvePath(n.pid, p.path.toString('latin1'), p.dirfd, probe), probe);
    // Only the first path of an open has flags (open has one path).
    if (i > 0 || flags === undefined) return { info, extraArgs: [] };
    const mode = ACCESS_MODES[flags & 3];
    const extra = openFlagNames(flags, arch);
    return { info: mode ? { ...info, mode } : info, extraArgs: extra.length > 0 ? [`mode_extra=${extra.join('|')}`] : [] };
  });
  return { name, args, paths };
}

const PATH_TYPES: PathType[] = ['UNKNOWN', 'NONEXISTENT', 'REGULAR', 'DIR', 'CHR', 'BLK', 'FIFO', 'LINK', 'SOCK'];
const NET_TYPES: NetType[] = ['IPV4', 'IPV6', 'UNIX', 'NETLINK'];
const MODES = [undefined, 'RDONLY', 'WRONLY', 'RDWR'];

/** Byte strings in byte order; numbers; undefined first (nsjail's std::map order). */
function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

const pathKey = (p: PathInfo) => [p.path, PATH_TYPES.indexOf(p.jailType), PATH_TYPES.indexOf(p.mainType), MODES.indexOf(p.mode)];

interface Entry<T> {
  key: (string | number)[];
  value: T;
  count: number;
  syscalls: Map<string, SyscallUse>;
}

/** Counts per resource, and per syscall-with-args under each. */
class Tally<T> {
  private readonly entries = new Map<string, Entry<T>>();

  add(key: (string | number)[], value: T, name: string, args: string[]): void {
    const k = JSON.stringify(key);
    let e = this.entries.get(k);
    if (!e) this.entries.set(k, (e = { key, value, count: 0, syscalls: new Map() }));
    e.count++;
    const sk = JSON.stringify([name, ...args]);
    const use = e.syscalls.get(sk) ?? { name, args, count: 0 };
    use.count++;
    e.syscalls.set(sk, use);
  }

  sorted(): Entry<T>[] {
    return [...this.entries.values()].sort((a, b) => compareKeys(a.key, b.key));
  }
}

const utf8 = (s: string) => latin1(s).toString('utf8');
const displayPath = (p: PathInfo): PathInfo => ({ ...p, path: utf8(p.path) });
const displaySyscalls = (m: Map<string, SyscallUse>) =>
  [...m.values()].sort((a, b) => compareKeys([a.name, ...a.args], [b.name, ...b.args])).map((u) => ({ name: u.name, args: u.args.map(utf8), count: u.count }));

/** The report's aggregate, fed one Access at a time while the jail runs. */
export class UnotifyStats {
  private readonly fs = new Tally<PathInfo>();
  private readonly net = new Tally<Omit<NetAccess, 'count' | 'syscalls'>>();

  add(a: Access): void {
    for (const p of a.paths) this.fs.add(pathKey(p.info), p.info, a.name, [...a.args, ...p.extraArgs]);
    if (a.net) {
      const { type, endpoint, port, socketPath } = a.net;
      this.net.add([NET_TYPES.indexOf(type), endpoint, port === undefined ? -1 : port, ...(socketPath ? pathKey(socketPath) : [])], a.net, a.name, a.args);
    }
  }

  result(): UnotifyStat {
    return {
      fsAccess: this.fs.sorted().map((e) => ({ ...displayPath(e.value), count: e.count, syscalls: displaySyscalls(e.syscalls) })),
      netAccess: this.net.sorted().map((e) => ({
        ...e.value,
        endpoint: utf8(e.value.endpoint),
        ...(e.value.socketPath ? { socketPath: displayPath(e.value.socketPath) } : {}),
        count: e.count,
        syscalls: displaySyscalls(e.syscalls),
      })),
    };
  }
}

/** protobuf's CEscape: printable ASCII as is, the rest of the UTF-8 bytes in octal. */
function quote(s: string): string {
  const named: Record<number, string> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x22: '\\"', 0x27: "\\'", 0x5c: '\\\\' };
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += named[b] ?? (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`);
  return `"${out}"`;
}

/** Lines of one message, fields in field-number order as protobuf's TextFormat prints them. */
type Field = [name: string, value: string | Field[]];

function render(fields: Field[], indent: string): string {
  return fields.map(([name, v]) => (typeof v === 'string' ? `${indent}${name}: ${v}\n` : `${indent}${name} {\n${render(v, indent + '  ')}${indent}}\n`)).join('');
}

function syscallFields(u: SyscallUse): Field[] {
  return [['name', quote(u.name)], ...u.args.map((a): Field => ['args', quote(a)]), ['count', String(u.count)]];
}

/** Path's fields 1-4 (path, jail_type, main_type, mode) and 7-8 (exists_*); count and syscall go between. */
function pathFields(p: PathInfo, middle: Field[]): Field[] {
  return [
    ['path', quote(p.path)],
    ['jail_type', p.jailType],
    ['main_type', p.mainType],
    ...(p.mode ? [['mode', p.mode] as Field] : []),
    ...middle,
    ['exists_in_jail', String(p.existsInJail)],
    ['exists_in_main', String(p.existsInMain)],
  ];
}

/** The report in protobuf text format, as nsjail prints and writes it. */
export function formatUnotifyReport(stat: UnotifyStat): string {
  const fields: Field[] = [
    ...stat.fsAccess.map((a): Field => ['fs_access', pathFields(a, [['count', String(a.count)], ...a.syscalls.map((u): Field => ['syscall', syscallFields(u)])])]),
    ...stat.netAccess.map((a): Field => [
      'net_access',
      [
        ['type', a.type],
        ['endpoint', quote(a.endpoint)],
        ...(a.socketPath ? [['socket_path', pathFields(a.socketPath, [])] as Field] : []),
        ['count', String(a.count)],
        ...a.syscalls.map((u): Field => ['syscall', syscallFields(u)]),
        ...(a.port === undefined ? [] : [['port', String(a.port)] as Field]),
      ],
    ]),
  ];
  return render(fields, '');
}

const errorCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * One jail's report: fed each notification while the jail runs, printed (and written to `file`,
 * an absolute path or null) at its end. The file is opened, created or truncated, before the jail
 * starts, so a path that cannot be written fails the launch rather than lose the report, and a
 * report from an earlier run never passes for this one's.
 */
export class UnotifyReport {
  private readonly stats = new UnotifyStats();
  private fd = -1;

  constructor(private readonly file: string | null) {}

  open(): void {
    if (this.file === null) return;
    try {
      this.fd = fs.openSync(this.file, 'w', 0o644);
    } catch (e) {
      throw new JailError('config', `seccomp_unotify_report '${this.file}': cannot open it for writing: ${errorCode(e)}`, {
        hint: 'name a file in an existing directory this user can write (it is created or truncated, and written when the jail ends)',
      });
    }
  }

  record(n: SeccompNotification): void {
    const access = accessOf(n, hostProbe);
    if (access) this.stats.add(access);
  }

  /** Logs the report as nsjail does (nothing when the jail named nothing), writes the file, and returns it. */
  finish(log: Logger): UnotifyStat {
    const stat = this.stats.result();
    if (stat.fsAccess.length === 0 && stat.netAccess.length === 0) return stat;
    const text = formatUnotifyReport(stat);
    log.info(`unotify report:\n${text}`);
    if (this.fd >= 0) {
      try {
        fs.writeSync(this.fd, text);
      } catch (e) {
        log.error(`seccomp_unotify_report '${this.file}': cannot write the report: ${errorCode(e)} (the exit report's notifications.report has it too)`);
      }
    }
    return stat;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
