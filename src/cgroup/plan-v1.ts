/**
 * The jail's cgroups on cgroup v1: one directory per hierarchy, `<mount>/<parent>/<name>`.
 *
 * Hierarchies: the ones a limit needs (memory, pids, cpu, net_cls), plus, whenever they are
 * mounted and the caller may create cgroups in them, memory (peak usage), cpuacct (CPU time) and
 * freezer (to stop every process before killing them, so none can fork away meanwhile).
 * Controllers mounted together (cpu,cpuacct) share one directory. Parents are created when
 * missing (and removed after the run when jail made them, see fs.ts); `cgroup_*_parent` defaults to nsjail's "NSJAIL", so cgroups an admin set up
 * for nsjail apply to jail too. Limits are written before the child is attached, and the child
 * is attached before it does anything (it waits for the go byte).
 */
import * as path from 'node:path';
import type { LoadedConfig } from '../config/types';
import type { CgroupFacts } from './facts';
import { cannotCreateCgroups } from './errors';
import { fieldError, type CgroupLimits, type NeededControllers } from './limits';
import { jailCgroupName } from './name';
import { canCreateIn, parentDir } from './paths';
import type { CgroupPlan } from './plan';

type Controller = 'memory' | 'pids' | 'cpu' | 'cpuacct' | 'net_cls' | 'freezer';

/** nsjail's per-controller fields: [mount field, parent field] (snake_case names, for spans). */
const FIELDS: Partial<Record<Controller, { mount: string; parent: string; get: (l: LoadedConfig) => [string, string] }>> = {
  memory: { mount: 'cgroup_mem_mount', parent: 'cgroup_mem_parent', get: (l) => [l.config.cgroupMemMount, l.config.cgroupMemParent] },
  pids: { mount: 'cgroup_pids_mount', parent: 'cgroup_pids_parent', get: (l) => [l.config.cgroupPidsMount, l.config.cgroupPidsParent] },
  cpu: { mount: 'cgroup_cpu_mount', parent: 'cgroup_cpu_parent', get: (l) => [l.config.cgroupCpuMount, l.config.cgroupCpuParent] },
  net_cls: { mount: 'cgroup_net_cls_mount', parent: 'cgroup_net_cls_parent', get: (l) => [l.config.cgroupNetClsMount, l.config.cgroupNetClsParent] },
};

/** Used for accounting and killing whenever available. */
const EXTRA: Controller[] = ['memory', 'cpuacct', 'freezer'];
/** Directory order in the plan. */
const ORDER: Controller[] = ['memory', 'pids', 'cpu', 'cpuacct', 'net_cls', 'freezer'];

interface Hierarchy {
  mount: string;
  /** The parent directory jails are created in. */
  parent: string;
  controllers: Set<Controller>;
}

/** Where `controller` is mounted: the configured `*_mount` if set, else the host's hierarchy. */
function findMount(loaded: LoadedConfig, facts: CgroupFacts, controller: Controller, needed: NeededControllers): string | null {
  const fields = FIELDS[controller];
  if (fields && loaded.setFields.has(fields.mount)) {
    const mount = fields.get(loaded)[0];
    const type = facts.fsType(mount);
    if (type !== 'cgroup') {
      throw fieldError(loaded, fields.mount, `${mount} is not a cgroup v1 hierarchy (${type === null ? 'it does not exist' : `it is ${type}`})`);
    }
    const known = facts.mounts.find((m) => m.version === 1 && m.path === mount);
    if (known && !known.controllers.includes(controller)) {
      throw fieldError(loaded, fields.mount, `${mount} is the cgroup v1 hierarchy of ${known.controllers.join(',')}, not of ${controller}`);
    }
    return mount;
  }
  const found = facts.mounts.find((m) => m.version === 1 && m.controllers.includes(controller));
  if (found) return found.path;
  const field = needed.get(controller);
  if (field === undefined) return null;
  const onV2 = facts.mounts.find((m) => m.version === 2 && (facts.read(path.join(m.path, 'cgroup.controllers')) ?? '').split(/\s+/).includes(controller));
  // Every controller a limit needs has a mount field (FIELDS); its default is where nsjail looks.
  const mountAt = fields!.get(loaded)[0];
  throw fieldError(
    loaded,
    field,
    `no cgroup v1 hierarchy has the ${controller} controller (none is mounted, see /proc/self/mountinfo)`,
    onV2
      ? `${controller} is on cgroup v2 at ${onV2.path}: set use_cgroupv2 and cgroupv2_mount: "${onV2.path}"`
      : `mount it (mkdir -p ${mountAt} && mount -t cgroup -o ${controller} cgroup ${mountAt}), or set ${fields!.mount} to where it is mounted`,
  );
}

function hierarchies(loaded: LoadedConfig, facts: CgroupFacts, needed: NeededControllers): Hierarchy[] {
  const byMount = new Map<string, Hierarchy>();
  for (const controller of ORDER) {
    if (!needed.has(controller) && !EXTRA.includes(controller)) continue;
    const mount = findMount(loaded, facts, controller, needed);
    if (mount === null) continue;
    let h = byMount.get(mount);
    if (!h) {
      // Hierarchies without a field of their own (cpuacct, freezer) follow cgroup_mem_parent.
      const fields = FIELDS[controller] ?? FIELDS.memory!;
      h = { mount, parent: parentDir(loaded, fields.parent, mount, fields.get(loaded)[1]), controllers: new Set() };
      byMount.set(mount, h);
    }
    h.controllers.add(controller);
  }
  return [...byMount.values()];
}

function limitWrites(loaded: LoadedConfig, facts: CgroupFacts, h: Hierarchy, dir: string, limits: CgroupLimits): CgroupPlan['setup'] {
  const out: CgroupPlan['setup'] = [];
  const w = (file: string, content: string | number) => out.push({ path: path.join(dir, file), content: String(content) });
  if (h.controllers.has('memory')) {
    // The OOM killer on, even if an ancestor turned it off (new memory cgroups inherit that):
    // a jail must be killed at its limit, never left hanging there.
    w('memory.oom_control', 0);
    if (limits.memoryBytes > 0) w('memory.limit_in_bytes', limits.memoryBytes);
    if (limits.swap) {
      const swapField = loaded.setFields.has('cgroup_mem_memsw_max') ? 'cgroup_mem_memsw_max' : 'cgroup_mem_swap_max';
      if (limits.memoryBytes === 0) {
        throw fieldError(loaded, swapField, 'cgroup v1 limits swap only together with memory (memory.memsw.limit_in_bytes)', 'set cgroup_mem_max (--memory) too');
      }
      if (facts.exists(path.join(h.mount, 'memory.memsw.limit_in_bytes'))) {
        w('memory.memsw.limit_in_bytes', limits.memoryBytes + limits.swap.bytes);
      } else if (!limits.swap.implicit) {
        throw fieldError(loaded, swapField, `this kernel does not account swap in cgroup v1 (no ${h.mount}/memory.memsw.limit_in_bytes)`, 'boot the kernel with swapaccount=1');
      }
      // Without swap accounting an implicit "no swap" cannot be written; the memory limit
      // then covers RAM only, which on a host without swap is the same thing.
    }
  }
  if (h.controllers.has('pids') && limits.pids > 0) w('pids.max', limits.pids);
  if (h.controllers.has('cpu') && limits.cpu) {
    w('cpu.cfs_period_us', limits.cpu.periodUs);
    w('cpu.cfs_quota_us', limits.cpu.quotaUs);
  }
  // In hex, as nsjail writes it (the kernel reads either, and shows it in decimal).
  if (h.controllers.has('net_cls') && limits.netClsClassid > 0) w('net_cls.classid', `0x${limits.netClsClassid.toString(16)}`);
  return out;
}

export function planCgroupV1(loaded: LoadedConfig, facts: CgroupFacts, limits: CgroupLimits, needed: NeededControllers, euid: number): CgroupPlan | null {
  const usable: Hierarchy[] = [];
  for (const h of hierarchies(loaded, facts, needed)) {
    if (canCreateIn(facts, h.parent)) {
      usable.push(h);
      continue;
    }
    const neededBy = [...h.controllers].map((c) => needed.get(c)).find((f) => f !== undefined);
    if (neededBy !== undefined) {
      const { message, hint } = cannotCreateCgroups(facts.mounts, h.parent, euid, 1);
      throw fieldError(loaded, neededBy, message, hint);
    }
  }
  if (usable.length === 0) return null;
  const name = jailCgroupName(facts.owner, facts.nextSequence());
  const dirs = usable.map((h) => path.join(h.parent, name));
  return {
    version: 1,
    dirs,
    setup: usable.flatMap((h, i) => limitWrites(loaded, facts, h, dirs[i], limits)),
    attach: dirs.map((d) => ({ path: path.join(d, 'cgroup.procs'), content: '{pid}' })),
    cloneInto: null,
  };
}
