/**
 * Facts about the calling process and the host that a plan depends on. Planning reads them
 * through this interface so unit tests can pin them and compare plans as golden JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { realCgroupFacts, type CgroupFacts } from '../cgroup/facts';

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
  /** lstat-like view of a host path, or null when it does not exist. */
  stat(p: string): { isDirectory: boolean; isFile: boolean } | null;
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

/**
 * Where jail roots are assembled. The directories are only ever mount points inside each jail's
 * private mount namespace; on the host they stay empty. Root uses /run/jail, others their
 * runtime directory or /tmp. They belong to the caller and are 0711: nobody else can create or
 * swap anything in them, and the jail's own uid (e.g. 65534), which mounts after switching ids,
 * can still traverse them.
 */
function chooseScratchDir(euid: number, env: NodeJS.ProcessEnv): string {
  const candidates =
    euid === 0
      ? ['/run/jail']
      : [env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'jail') : '', `/tmp/jail-${euid}`].filter(Boolean);
  const ready = (dir: string) =>
    [dir, path.join(dir, 'root'), path.join(dir, 'stage')].every((d) => {
      const st = fs.lstatSync(d, { throwIfNoEntry: false });
      return st !== undefined && st.isDirectory() && st.uid === euid && (st.mode & 0o7777) === 0o711;
    });
  for (const dir of candidates) {
    try {
      if (ready(dir)) return dir;
      fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || st.uid !== euid) continue;
      for (const d of [dir, path.join(dir, 'root'), path.join(dir, 'stage')]) {
        fs.mkdirSync(d, { recursive: true, mode: 0o711 });
        fs.chmodSync(d, 0o711);
      }
      return dir;
    } catch {
      // try the next candidate
    }
  }
  return candidates[candidates.length - 1];
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
