/**
 * The jail's cgroup: Config cgroup_* fields and the host's cgroup layout -> CgroupPlan.
 *
 * Every jail gets cgroups of its own whenever the host has usable ones, limits or not: they let
 * the supervisor kill every process of the jail at its end (also without a PID namespace) and
 * measure its memory and CPU. Without usable cgroups a jail that asks for no limit runs without
 * them; a limit that cannot be applied stops the launch (never fail open).
 *
 * Which version: `use_cgroupv2` -> v2; `detect_cgroupv2` -> v2 iff `cgroupv2_mount` is a cgroup2
 * filesystem (nsjail's rules). With neither, the same test picks v2 on a unified host, otherwise
 * v1 when v1 hierarchies are mounted (a hybrid host keeps its controllers there), otherwise v2
 * wherever cgroup2 is mounted.
 */
import type { LoadedConfig } from '../config/types';
import type { CgroupFacts } from './facts';
import { cgroupLimits, fieldError, neededControllers } from './limits';
import { nearestExisting } from './paths';
import { planCgroupV1 } from './plan-v1';
import { planCgroupV2 } from './plan-v2';
import type { HostFacts } from '../sandbox/host';

export interface CgroupPlan {
  /** 1 (one hierarchy per controller) or 2 (the unified hierarchy). */
  version: 1 | 2;
  /** Directories created before launch, parents first; removed (children first) after the jail. */
  dirs: string[];
  /** Limit files written before launch, in order. */
  setup: Array<{ path: string; content: string }>;
  /** Files the parent writes after clone, before the go byte; "{pid}" becomes the pid. */
  attach: Array<{ path: string; content: string }>;
  /** Directory the child is cloned straight into (cgroup v2 CLONE_INTO_CGROUP), or null. */
  cloneInto: string | null;
}

export function chooseCgroupVersion(loaded: LoadedConfig, facts: CgroupFacts): 1 | 2 | null {
  const c = loaded.config;
  const unified = facts.fsType(nearestExisting(facts, c.cgroupv2Mount)) === 'cgroup2';
  if (c.useCgroupv2) return 2;
  if (c.detectCgroupv2 || unified) return unified ? 2 : 1;
  if (facts.mounts.some((m) => m.version === 1)) return 1;
  if (facts.mounts.some((m) => m.version === 2)) return 2;
  return null;
}

export function planCgroup(loaded: LoadedConfig, host: HostFacts): CgroupPlan | null {
  const limits = cgroupLimits(loaded);
  const needed = neededControllers(loaded, limits);
  const facts = host.cgroups();
  const version = chooseCgroupVersion(loaded, facts);
  if (version === null) {
    const field = needed.values().next().value;
    if (field === undefined) return null;
    throw fieldError(loaded, field, 'this host has no cgroup filesystem mounted (see /proc/self/mountinfo)', 'mount cgroup2 on /sys/fs/cgroup');
  }
  return version === 1 ? planCgroupV1(loaded, facts, limits, needed, host.euid) : planCgroupV2(loaded, facts, limits, needed, host.euid);
}
