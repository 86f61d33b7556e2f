/**
 * What the host's cgroups look like, as the planner needs to know it: the mounted hierarchies
 * (/proc/self/mountinfo), the caller's own cgroup (/proc/self/cgroup), the caller's identity for
 * naming, and read-only looks at cgroup files. Everything here only reads; writing under
 * /sys/fs/cgroup is the supervisor's job, through the addon.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { CgroupOwner } from './name';

export interface CgroupMount {
  /** Mount point. */
  path: string;
  version: 1 | 2;
  /** v1: the controllers bound to this hierarchy (from the super options); v2: []. */
  controllers: string[];
  /** The cgroup shown at the mount point (mountinfo's root field), "/" unless bind-mounted. */
  root: string;
  /** Mounted read-only (container runtimes mount cgroupfs so). */
  readOnly: boolean;
}

export interface CgroupFacts {
  mounts: CgroupMount[];
  /** The caller's cgroup v2 path ("0::PATH" in /proc/self/cgroup), or null. */
  selfV2: string | null;
  /** The caller, as jail cgroup names carry it. */
  owner: CgroupOwner;
  /** Linux >= 5.7: clone3 can start the child in a given cgroup (CLONE_INTO_CGROUP). */
  cloneIntoCgroup: boolean;
  /** Filesystem type of a path ('cgroup2', 'cgroup', 'tmpfs', or the hex magic), or null if absent. */
  fsType(p: string): string | null;
  /** A cgroup file's text, or null when it cannot be read. */
  read(p: string): string | null;
  exists(p: string): boolean;
  /** access(W_OK): whether the caller may create cgroups in this directory or write this file. */
  writable(p: string): boolean;
  /** A number no other jail planned by this process gets. */
  nextSequence(): number;
}

/** Controller names a v1 mount may carry among its super options. */
const V1_CONTROLLERS = new Set([
  'blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory', 'misc', 'net_cls', 'net_prio', 'perf_event', 'pids', 'rdma',
]);

const FS_MAGIC: Record<number, string> = { 0x63677270: 'cgroup2', 0x27e0eb: 'cgroup', 0x01021994: 'tmpfs' };

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The cgroup filesystems in /proc/PID/mountinfo. Line grammar (proc(5)):
 *   id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
 */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    if (left.length < 5 || (fstype !== 'cgroup' && fstype !== 'cgroup2')) continue;
    out.push({
      path: unescapeMountinfo(left[4]),
      version: fstype === 'cgroup2' ? 2 : 1,
      controllers: fstype === 'cgroup2' ? [] : superOptions.split(',').filter((o) => V1_CONTROLLERS.has(o)),
      root: unescapeMountinfo(left[3]),
      readOnly: left[5].split(',').includes('ro'),
    });
  }
  return out;
}

/** The cgroup filesystems mounted in this process's mount namespace. */
export function cgroupMounts(): CgroupMount[] {
  return parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The cgroup v2 path in /proc/PID/cgroup ("hierarchy-id:controllers:path", v2 is "0::path"). */
export function parseSelfV2(procCgroup: string): string | null {
  for (const line of procCgroup.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3);
  }
  return null;
}

/** Start time (field 22) of /proc/PID/stat; the command name (field 2) may hold spaces and ')'. */
export function parseStartTime(stat: string): number | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isSafeInteger(start) ? start : null;
}

/** The pid namespace inode from a /proc/PID/ns/pid link ("pid:[4026531836]"). */
export function parsePidnsLink(link: string): number | null {
  const m = /^pid:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : null;
}

/** The start time of `pid` as /proc shows it, or null when no such process exists. */
export function processStartTime(pid: number): number | null {
  try {
    return parseStartTime(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

export function selfOwner(): CgroupOwner {
  const start = processStartTime(process.pid);
  const pidns = parsePidnsLink(fs.readlinkSync('/proc/self/ns/pid'));
  if (start === null || pidns === null) throw new Error('cannot read this process\'s start time or pid namespace from /proc');
  return { pid: process.pid, start, pidns };
}

/** CLONE_INTO_CGROUP came with Linux 5.7. */
export function kernelHasCloneIntoCgroup(release: string): boolean {
  const [major, minor] = release.split('.').map((n) => parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 7);
}

let ownerCache: CgroupOwner | undefined;
let sequence = 0;

export function realCgroupFacts(): CgroupFacts {
  ownerCache ??= selfOwner();
  return {
    mounts: cgroupMounts(),
    selfV2: parseSelfV2(fs.readFileSync('/proc/self/cgroup', 'utf8')),
    owner: ownerCache,
    cloneIntoCgroup: kernelHasCloneIntoCgroup(os.release()),
    fsType(p) {
      try {
        const type = Number(fs.statfsSync(p).type);
        return FS_MAGIC[type] ?? `0x${type.toString(16)}`;
      } catch {
        return null;
      }
    },
    read(p) {
      try {
        return fs.readFileSync(p, 'utf8');
      } catch {
        return null;
      }
    },
    exists: (p) => fs.existsSync(p),
    writable(p) {
      try {
        fs.accessSync(p, fs.constants.W_OK);
        return true;
      } catch {
        return false;
      }
    },
    nextSequence: () => sequence++,
  };
}
