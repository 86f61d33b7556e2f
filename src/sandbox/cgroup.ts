/**
 * The jail's cgroup: Config cgroup_* fields and the host's cgroup layout -> CgroupPlan.
 */
import type { LoadedConfig } from '../config/types';
import type { HostFacts } from './host';
import type { CgroupPlan } from './plan';

export function planCgroup(loaded: LoadedConfig, host: HostFacts): CgroupPlan | null {
  void loaded;
  void host;
  return null;
}
