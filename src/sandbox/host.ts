/**
 * Facts about the calling process and the host that a plan depends on. Planning reads them
 * through this interface so unit tests can pin them and compare plans as golden JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import { realCgroupFacts, type CgroupFacts } from '../cgroup/facts';
import type { EntryType, HostEntry } from './host-path';

export interface RLimitPair {
  /** Decimal text or "infinity". */
  soft: string;
  hard: string;
}

export interface HostFacts {
  euid: number;
  egid: number;
  /** The caller's current limits by RLIMIT name as nsjail spells it (as, core, cpu, ...). */
  rlimit(name: string): RLimitPair;
  /** stat-like view of a host path (links followed), or null when it does not exist. */
  stat(p: string): { isDirectory: boolean; isFile: boolean } | null;
  /** lstat(2) of a host path (the link itself), or null when it does not exist. */
  lstat(p: string): HostEntry | null;
  /** The target of the symbolic link `p`, or null. */
  readlink(p: string): string | null;
  /** True when `p` is a regular file the caller may execute. */
  isExecutable(p: string): boolean;
  /** Scratch directory on the host where jail roots are assembled (must exist). */
  scratchDir(): string;
  /** The cgroup hierarchies, the caller's own cgroup, and read-only looks at cgroup files. */
  cgroups(): CgroupFacts;
  /** CPUs this process may run on (Cpus_allowed_list). */
  allowedCpus(): number[];
}

/** Parses a kernel CPU list such as "0-3,8,10-11". */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) cpus.push(c);
  }
  return cpus;
}

/** Names in /proc/self/limits -> nsjail's rlimit names. */
const LIMIT_ROWS: Record<string, string> = {
  'Max cpu time': 'cpu',
  'Max file size': 'fsize',
  'Max stack size': 'stack',
  'Max core file size': 'core',
  'Max processes': 'nproc',
  'Max open files': 'nofile',
  'Max locked memory': 'memlock',
  'Max address space': 'as',
  'Max msgqueue size': 'msgqueue',
  'Max realtime priority': 'rtprio',
};

/** Parses /proc/self/limits (Node has no getrlimit). */
export function parseProcLimits(text: string): Map<string, RLimitPair> {
  const out = new Map<string, RLimitPair>();
  for (const line of text.split('\n')) {
    for (const [label, name] of Object.entries(LIMIT_ROWS)) {
      if (!line.startsWith(label + ' ')) continue;
      const [soft, hard] = line.slice(label.length).trim().split(/\s+/);
      const norm = (v: string) => (v === 'unlimited' ? 'infinity' : v);
      out.set(name, { soft: norm(soft), hard: norm(hard) });
    }
  }
  return out;
}

let limitsCache: Map<string, RLimitPair> | undefined;
let scratchCache: string | undefined;

function entryType(st: fs.Stats): EntryType {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'link';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  return 'other';
}

/**
 * What a scratch directory holds: `root`, where the jail root is assembled, and `contentDir`,
 * where src_content files are written before they are bound into place. native/mount.cc reaches
 * both by name from one descriptor of the scratch directory, their parent.
 */
export function scratchLayout(scratch: string): { root: string; contentDir: string } {
  return { root: path.join(scratch, 'root'), contentDir: path.join(scratch, 'content') };
}

/** The scratch directory and the directories of its layout. */
function scratchDirs(scratch: string): string[] {
  const { root, contentDir } = scratchLayout(scratch);
  return [scratch, root, contentDir];
}

/** Why `dir` (with its root/ and content/) cannot be the scratch directory of `euid`, or null. */
function scratchProblem(dir: string, euid: number): string | null {
  for (const d of scratchDirs(dir)) {
    const st = fs.lstatSync(d, { throwIfNoEntry: false });
    if (st === undefined) return `${d} does not exist`;
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    if (!st.isDirectory()) return `${d} is not a directory${st.isSymbolicLink() ? ' (it is a symbolic link)' : ''}`;
    if (st.uid !== euid) return `${d} belongs to uid ${st.uid}, not to this user (uid ${euid})`;
    if ((st.mode & 0o7777) !== 0o711) return `${d} has mode ${mode}, not 0711`;
  }
  return null;
}

/**
 * Where jail roots are assembled. The directories are only ever mount points inside each jail's
 * private mount namespace; on the host they stay empty. Root uses /run/jail, others their
 * runtime directory or /tmp. They must belong to the caller and be 0711: then nobody else can
 * create or swap anything in them (in the sticky /tmp nobody else can rename them either), and
 * the jail's own uid (e.g. 65534), which mounts after switching ids, can still traverse them.
 *
 * A directory someone else made (say /tmp/jail-1000, pre-created by another user who could swap
 * root/ for a link to a directory of the victim's) is never used: when no candidate passes, jail
 * refuses to run. The path returned has no symbolic link in it, because the child opens it with
 * openat2(RESOLVE_NO_SYMLINKS) (native/mount.cc).
 */
function chooseScratchDir(euid: number, env: NodeJS.ProcessEnv): string {
  const candidates =
    euid === 0
      ? ['/run/jail']
      : [env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'jail') : '', `/tmp/jail-${euid}`].filter(Boolean);
  const problems: string[] = [];
  for (const candidate of candidates) {
    let dir = candidate;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
      // The parent's links are resolved; the candidate itself must not be one (see scratchProblem).
      dir = path.join(fs.realpathSync(path.dirname(dir)), path.basename(dir));
      // Only a directory that is already ours is completed (its root/ and content/) and chmod'ed.
      const st = fs.lstatSync(dir);
      if (st.isDirectory() && st.uid === euid) {
        for (const d of scratchDirs(dir)) {
          fs.mkdirSync(d, { recursive: true, mode: 0o711 });
          const own = fs.lstatSync(d);
          if (own.isDirectory() && own.uid === euid) fs.chmodSync(d, 0o711);
        }
      }
    } catch (e) {
      problems.push(`${dir}: ${(e as Error).message}`);
      continue;
    }
    let problem: string | null;
    try {
      problem = scratchProblem(dir, euid);
    } catch (e) {
      problem = `${dir}: ${(e as Error).message}`;
    }
    if (problem === null) return dir;
    problems.push(problem);
  }
  const last = candidates[candidates.length - 1];
  const fix =
    euid === 0
      ? `remove ${last} (jail only ever uses it as an empty mount point) and run jail again; jail recreates it`
      : `if you did not make ${last}, ask root to remove it (someone else may be trying to redirect your jails); or set XDG_RUNTIME_DIR to a directory only you can write, and jail uses ${'${XDG_RUNTIME_DIR}'}/jail`;
  throw new JailError('environment', `no safe scratch directory for the jail root: ${problems.join('; ')}`, { hint: fix });
}

export function realHost(env: NodeJS.ProcessEnv = process.env): HostFacts {
  const euid = process.geteuid?.() ?? 0;
  return {
    euid,
    egid: process.getegid?.() ?? 0,
    rlimit(name) {
      limitsCache ??= parseProcLimits(fs.readFileSync('/proc/self/limits', 'utf8'));
      return limitsCache.get(name) ?? { soft: 'infinity', hard: 'infinity' };
    },
    stat(p) {
      try {
        const st = fs.statSync(p);
        return { isDirectory: st.isDirectory(), isFile: st.isFile() };
      } catch {
        return null;
      }
    },
    lstat(p) {
      try {
        const st = fs.lstatSync(p);
        return { type: entryType(st), uid: st.uid, mode: st.mode & 0o7777 };
      } catch {
        return null;
      }
    },
    readlink(p) {
      try {
        return fs.readlinkSync(p);
      } catch {
        return null;
      }
    },
    isExecutable(p) {
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return fs.statSync(p).isFile();
      } catch {
        return false;
      }
    },
    scratchDir() {
      scratchCache ??= chooseScratchDir(euid, env);
      return scratchCache;
    },
    allowedCpus() {
      const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('Cpus_allowed_list:'));
      return line ? parseCpuList(line.split(':')[1]) : [];
    },
    cgroups: realCgroupFacts,
  };
}
