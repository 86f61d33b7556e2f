/**
 * Made-up cgroup hosts for the planner (CgroupFacts), so plans are the same on every machine:
 * the hybrid v1 layout of the development machine (controllers on v1, an empty cgroup2 at
 * /sys/fs/cgroup/unified) and a unified v2 host laid out like systemd does it. Nothing here
 * reads the real host.
 */
import { posix } from 'node:path';
import type { CgroupFacts, CgroupMount } from '../../../src/cgroup/facts';
import type { CgroupOwner } from '../../../src/cgroup/name';
import type { HostFacts } from '../../../src/sandbox/host';

export const OWNER: CgroupOwner = { pid: 4242, start: 1000, pidns: 4026531836 };
export const NAME = '4242.1000.4026531836.0';

export interface FakeCgroupOptions {
  mounts: CgroupMount[];
  selfV2?: string | null;
  /** Existing cgroup files and their text. Their directories exist too. */
  files?: Record<string, string>;
  /** Directories that exist without listed files. */
  dirs?: string[];
  /** Mount point -> filesystem type (anything below it has that type). */
  fsTypes?: Record<string, string>;
  /** Which existing paths the caller may write (default: all, as root). */
  writable?: (p: string) => boolean;
  cloneIntoCgroup?: boolean;
}

export function fakeCgroups(o: FakeCgroupOptions): CgroupFacts & { reads: string[] } {
  const files = o.files ?? {};
  const dirs = new Set<string>(o.dirs ?? []);
  for (const p of [...Object.keys(files), ...dirs]) {
    for (let d = posix.dirname(p); !dirs.has(d); d = posix.dirname(d)) dirs.add(d);
  }
  const exists = (p: string) => dirs.has(p) || p in files;
  const reads: string[] = [];
  return {
    reads,
    mounts: o.mounts,
    selfV2: o.selfV2 ?? null,
    owner: OWNER,
    cloneIntoCgroup: o.cloneIntoCgroup ?? true,
    fsType(p) {
      if (!exists(p)) return null;
      const mount = Object.keys(o.fsTypes ?? {})
        .filter((m) => p === m || p.startsWith(m === '/' ? '/' : m + '/'))
        .sort((a, b) => b.length - a.length)[0];
      return mount === undefined ? 'ext4' : o.fsTypes![mount];
    },
    read(p) {
      reads.push(p);
      return files[p] ?? null;
    },
    exists,
    writable: (p) => exists(p) && (o.writable ?? (() => true))(p),
    nextSequence: () => 0,
  };
}

const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];

/** The development machine: every controller on its own v1 hierarchy, cgroup2 with hugetlb only. */
export function hybridV1(extra: Partial<FakeCgroupOptions> = {}): CgroupFacts & { reads: string[] } {
  const mounts: CgroupMount[] = V1_CONTROLLERS.map((c) => ({ path: `/sys/fs/cgroup/${c}`, version: 1, controllers: [c], root: '/', readOnly: false }));
  mounts.push({ path: '/sys/fs/cgroup/systemd', version: 1, controllers: [], root: '/', readOnly: false });
  mounts.push({ path: '/sys/fs/cgroup/unified', version: 2, controllers: [], root: '/', readOnly: false });
  const fsTypes: Record<string, string> = { '/sys/fs/cgroup': 'tmpfs', '/sys/fs/cgroup/unified': 'cgroup2' };
  for (const m of mounts) if (m.version === 1) fsTypes[m.path] = 'cgroup';
  return fakeCgroups({
    mounts,
    selfV2: '/',
    fsTypes,
    files: {
      '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes': '9223372036854771712\n',
      '/sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n',
      '/sys/fs/cgroup/unified/cgroup.subtree_control': '\n',
      ...Object.fromEntries(V1_CONTROLLERS.map((c) => [`/sys/fs/cgroup/${c}/cgroup.procs`, '1\n'])),
    },
    ...extra,
  });
}

export const ALL_V2 = 'cpuset cpu io memory hugetlb pids rdma misc\n';

/**
 * A unified host like systemd lays it out: controllers enabled down to system.slice and
 * user.slice, the caller in `self` (default: the root cgroup).
 */
export function unifiedV2(extra: Partial<FakeCgroupOptions> = {}): CgroupFacts & { reads: string[] } {
  const scope = '/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope';
  return fakeCgroups({
    mounts: [{ path: '/sys/fs/cgroup', version: 2, controllers: [], root: '/', readOnly: false }],
    selfV2: '/',
    fsTypes: { '/sys/fs/cgroup': 'cgroup2' },
    ...extra,
    files: {
      '/sys/fs/cgroup/cgroup.controllers': ALL_V2,
      '/sys/fs/cgroup/cgroup.subtree_control': 'cpu memory pids\n',
      '/sys/fs/cgroup/cgroup.procs': '1\n',
      '/sys/fs/cgroup/system.slice/cgroup.type': 'domain\n',
      '/sys/fs/cgroup/system.slice/cgroup.controllers': 'cpu memory pids\n',
      '/sys/fs/cgroup/system.slice/cgroup.subtree_control': 'cpu memory pids\n',
      '/sys/fs/cgroup/system.slice/jail.service/cgroup.type': 'domain\n',
      '/sys/fs/cgroup/system.slice/jail.service/cgroup.controllers': 'cpu memory pids\n',
      '/sys/fs/cgroup/system.slice/jail.service/cgroup.subtree_control': '\n',
      '/sys/fs/cgroup/system.slice/jail.service/cgroup.procs': `${OWNER.pid}\n`,
      '/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cgroup.type': 'domain\n',
      '/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cgroup.controllers': 'cpu memory pids\n',
      '/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cgroup.subtree_control': '\n',
      '/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cgroup.procs': `977\n1201\n${OWNER.pid}\n`,
      [`${scope}/cgroup.type`]: 'domain\n',
      [`${scope}/cgroup.controllers`]: 'cpu memory pids\n',
      [`${scope}/cgroup.subtree_control`]: '\n',
      [`${scope}/cgroup.procs`]: `${OWNER.pid}\n`,
      ...extra.files,
    },
  });
}

export const USER_SCOPE = '/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope';

/** HostFacts around fake cgroup facts: the planner reads only euid and cgroups(); anything else throws. */
export function hostWith(cgroups: CgroupFacts, euid = 0): HostFacts {
  const facts: Partial<HostFacts> = { euid, egid: euid, cgroups: () => cgroups };
  return new Proxy(facts, {
    get(t, k) {
      if (typeof k !== 'string' || k in t) return t[k as keyof HostFacts];
      throw new Error(`the cgroup planner should not need host.${k}`);
    },
  }) as HostFacts;
}
