/**
 * The cgroup side of one jail while it runs: created before launch from the plan's CgroupPlan,
 * killed and read back after the jail, and always removed.
 */
import type { NativeAddon } from '../native/types';
import type { CgroupPlan } from '../sandbox/plan';
import type { Logger } from './log';
import type { CgroupStats } from './report';

export interface CgroupSession {
  /** Directory fd for CLONE_INTO_CGROUP, or -1. */
  readonly cloneFd: number;
  /** Kills every process in the jail's cgroups (cgroup.kill on v2, freeze-and-kill on v1). */
  killAll(): void;
  /** After the jail's init was reaped: kills leftovers, reads the accounting, removes the directories. */
  finish(): Promise<CgroupStats>;
  /** Removes everything without reading it (the launch failed). */
  destroy(): void;
}

export function openCgroupSession(addon: NativeAddon, plan: CgroupPlan, log: Logger): CgroupSession {
  void addon;
  void plan;
  void log;
  throw new Error('cgroup sessions are not implemented yet');
}
