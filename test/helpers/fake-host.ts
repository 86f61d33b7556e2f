/**
 * Pinned host facts for the planner (src/sandbox/host.ts), so plans built in tests are the same
 * on every machine and can be compared as golden JSON: a fixed euid/egid, fixed current rlimits,
 * a small made-up filesystem for stat() and PATH lookup, and a fixed scratch directory.
 *
 * Nothing here touches the real host: paths that are not listed do not exist.
 */
import type { HostFacts, RLimitPair } from '../../src/sandbox/host';
import type { HostEntry } from '../../src/sandbox/host-path';

/**
 * A made-up host path: a directory (root's, 0755; 'sticky' is root's 1777 like /tmp), a file,
 * an executable, a character device, or a symbolic link (root's unless `uid` says otherwise).
 * Directories above a listed path exist implicitly (root's, 0755).
 */
export type FakeEntry = 'dir' | 'sticky' | 'file' | 'exe' | 'chr' | { link: string; uid?: number };

/** The made-up filesystem: a Debian-like layout, enough for the examples and the nsjail defaults. */
export const DEFAULT_TREE: Record<string, FakeEntry> = {
  '/': 'dir',
  '/usr': 'dir',
  '/usr/bin': 'dir',
  '/usr/local/bin': 'dir',
  '/usr/bin/python3': 'exe',
  '/usr/bin/env': 'exe',
  '/usr/bin/true': 'exe',
  '/usr/bin/not-executable': 'file',
  '/bin': 'dir',
  '/bin/true': 'exe',
  '/bin/sh': 'exe',
  '/bin/echo': 'exe',
  '/lib': 'dir',
  '/lib64': 'dir',
  '/etc': 'dir',
  '/etc/ld.so.cache': 'file',
  '/etc/alternatives': 'dir',
  '/etc/resolv.conf': 'file',
  '/dev': 'dir',
  '/dev/null': 'chr',
  '/dev/urandom': 'chr',
  '/dev/zero': 'chr',
  '/home/alice/project': 'dir',
  '/home/alice/project/examples': 'dir',
  '/srv/data': 'dir',
  '/srv/data/config.json': 'file',
};

/** The caller's limits as /proc/self/limits would show them on a typical machine. */
export const DEFAULT_LIMITS: Record<string, RLimitPair> = {
  as: { soft: 'infinity', hard: 'infinity' },
  core: { soft: '0', hard: 'infinity' },
  cpu: { soft: 'infinity', hard: 'infinity' },
  fsize: { soft: 'infinity', hard: 'infinity' },
  nofile: { soft: '1024', hard: '524288' },
  nproc: { soft: '63432', hard: '63432' },
  stack: { soft: '8388608', hard: 'infinity' },
  memlock: { soft: '8388608', hard: '8388608' },
  msgqueue: { soft: '819200', hard: '819200' },
  rtprio: { soft: '0', hard: '0' },
};

export const FAKE_SCRATCH = '/run/jail-test';

export interface FakeHostOptions {
  /**
   * The host's cgroups: 'none' (no cgroup filesystem: jails without limits get no cgroup, the
   * default, so plans here do not depend on the cgroup planner) or 'v2' (a unified hierarchy at
   * /sys/fs/cgroup with every controller, the caller in a delegated, writable session scope).
   */
  cgroups?: 'none' | 'v2';
  euid?: number;
  egid?: number;
  /** Replaces entries of the default limits. */
  limits?: Record<string, RLimitPair>;
  /** Added to (or, with null, removed from) the default tree. */
  tree?: Record<string, FakeEntry | null>;
  scratch?: string;
}

/**
 * The cgroup facts of src/cgroup/facts.ts (CgroupFacts), typed structurally here so this
 * helper does not depend on that module's exact shape.
 */
function fakeCgroupFacts(kind: 'none' | 'v2') {
  const v2 = kind === 'v2';
  const self = '/user.slice/user-1000.slice/session-1.scope';
  const files: Record<string, string> = {
    '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc',
    '/sys/fs/cgroup/cgroup.subtree_control': 'cpuset cpu io memory pids',
    [`/sys/fs/cgroup${self}/cgroup.procs`]: '4242\n',
    [`/sys/fs/cgroup${self}/cgroup.controllers`]: 'cpuset cpu io memory pids',
    [`/sys/fs/cgroup${self}/cgroup.subtree_control`]: '',
  };
  let seq = 0;
  const isCgroupPath = (p: string) => v2 && (p === '/sys/fs/cgroup' || p.startsWith('/sys/fs/cgroup/'));
  return {
    mounts: v2 ? [{ path: '/sys/fs/cgroup', version: 2 as const, controllers: [] as string[], root: '/' }] : [],
    selfV2: v2 ? self : null,
    owner: { pid: 4242, start: 123456, pidns: 4026531836 },
    cloneIntoCgroup: true,
    fsType: (p: string) => (isCgroupPath(p) ? 'cgroup2' : p === '/' || p === '/sys' || p === '/sys/fs' ? 'ext4' : null),
    read: (p: string) => (v2 ? (files[p] ?? null) : null),
    exists: (p: string) => p === '/' || p === '/sys' || p === '/sys/fs' || (v2 && (p === '/sys/fs/cgroup' || p in files || `/sys/fs/cgroup${self}`.startsWith(p))),
    writable: (p: string) => isCgroupPath(p),
    nextSequence: () => ++seq,
  };
}

export interface FakeHost extends HostFacts {
  /** Every path stat()ed or checked for execution, in order (to assert what the planner looked at). */
  readonly looked: string[];
}

export function fakeHost(options: FakeHostOptions = {}): FakeHost {
  const euid = options.euid ?? 0;
  const tree: Record<string, FakeEntry> = { ...DEFAULT_TREE };
  for (const [p, kind] of Object.entries(options.tree ?? {})) {
    if (kind === null) delete tree[p];
    else tree[p] = kind;
  }
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const looked: string[] = [];
  const cgroupFacts = fakeCgroupFacts(options.cgroups ?? 'none');
  return {
    euid,
    egid: options.egid ?? euid,
    looked,
    rlimit(name) {
      const l = limits[name];
      if (!l) throw new Error(`fake host: no limit '${name}'`);
      return l;
    },
    stat(p) {
      looked.push(p);
      const kind = tree[p];
      if (kind === undefined) return null;
      const isDirectory = kind === 'dir' || kind === 'sticky';
      return { isDirectory, isFile: !isDirectory };
    },
    lstat(p): HostEntry | null {
      const kind = tree[p];
      if (typeof kind === 'object') return { type: 'link', uid: kind.uid ?? 0, mode: 0o777 };
      if (kind === 'sticky') return { type: 'dir', uid: 0, mode: 0o1777 };
      if (kind === 'dir' || (kind === undefined && Object.keys(tree).some((k) => k.startsWith(p === '/' ? '/' : p + '/')))) {
        return { type: 'dir', uid: 0, mode: 0o755 };
      }
      if (kind === undefined) return null;
      return { type: kind === 'chr' ? 'chr' : 'file', uid: 0, mode: { file: 0o644, exe: 0o755, chr: 0o666 }[kind] };
    },
    readlink(p) {
      const kind = tree[p];
      return typeof kind === 'object' ? kind.link : null;
    },
    isExecutable(p) {
      looked.push(p);
      return tree[p] === 'exe';
    },
    scratchDir: () => options.scratch ?? FAKE_SCRATCH,
    // Planners that know no cgroups() simply never call it.
    cgroups: () => cgroupFacts,
  } as FakeHost;
}

/** The environment tests plan with: nothing from the machine running them. */
export const FAKE_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/home/alice',
  LANG: 'C.UTF-8',
  PWD: '/home/alice/project',
  TERM: 'xterm',
};
