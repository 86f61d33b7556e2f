/**
 * Whether the jail's child may run in the supervisor's memory until execve (clone3 CLONE_VM).
 *
 * Sharing saves copying the supervisor's page tables (tens of MiB for Node) and tearing them down
 * again at execve: measured 10.9 -> 4.5 ms per launch under load. But while the child shares the
 * memory, the kernel treats it and the supervisor as one memory owner, and three things the child
 * may do before execve would then reach the supervisor itself:
 * - oom_score_adj is applied to every process sharing the memory (the caller's own
 *   /proc/self/oom_score_adj would change);
 * - a memory cgroup that runs out kills every process sharing the victim's memory: an OOM of a
 *   memory-limited jail during its setup would kill the supervisor;
 * - a change of the kernel's uid or gid resets the memory's "dumpable" flag (commit_creds), which
 *   makes the supervisor undumpable and its /proc files root-owned.
 * So the child gets memory of its own (a fork-like clone) whenever the plan does one of these.
 */
import type { Config } from '../config/types';
import type { HostFacts } from './host';
import type { IdPlan } from './idmap';
import type { CgroupPlan } from '../cgroup/plan';

/** The cgroup v1 memory parent jail creates itself, without a limit of its own. */
const DEFAULT_MEMORY_PARENT = 'NSJAIL';

export function mayShareMemory(config: Config, ids: IdPlan, host: HostFacts, cgroup: CgroupPlan | null): boolean {
  if (config.oomScoreAdj !== undefined && config.oomScoreAdj !== null) return false;
  if (ids.hostUid !== host.euid || ids.hostGid !== host.egid) return false;
  if (cgroup === null) return true;
  const memoryLimited = config.cgroupMemMax > 0 || config.cgroupMemMemswMax > 0 || config.cgroupMemSwapMax >= 0;
  // A parent the user chose may carry a limit of its own, whose OOM would pick this child too.
  return !memoryLimited && config.cgroupMemParent === DEFAULT_MEMORY_PARENT;
}
