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
import type { CgroupFacts } from './cgroup-host';
import { cgroupLimits, fieldError, neededControllers } from './cgroup-limits';
import { nearestExisting } from './cgroup-paths';
import { planCgroupV1 } from './cgroup-v1';
import { planCgroupV2 } from './cgroup-v2';
import type { HostFacts } from './host';
import type { CgroupPlan } from './plan';

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
