/**
 * What a jail's cgroups say after it ended: peak memory, CPU time, whether the memory limit killed
 * something and whether the pids limit refused a fork — for the report, and in words for the log.
 *
 *                 cgroup v2                 cgroup v1
 *   peak memory   memory.peak               memory.max_usage_in_bytes
 *   CPU time      cpu.stat usage_usec       cpuacct.usage (ns)
 *   OOM kills     memory.events oom_kill    memory.oom_control oom_kill
 *   fork refused  pids.events max           pids.events max
 *
 * Each file is looked for in every directory of the jail (v1 has one per hierarchy); a missing
 * one (controller not used, older kernel) leaves its report field out.
 */
import * as path from 'node:path';
import { formatSize } from '../config/size';
import type { NativeAddon } from '../native/types';
import type { CgroupPlan } from './plan';
import type { Logger } from '../supervisor/log';
import type { CgroupStats } from '../supervisor/report';

export interface CgroupReading {
  stats: CgroupStats;
  /** Processes the OOM killer killed (0 when unknown). */
  oomKills: number;
  /** Forks refused by pids.max. */
  forksRefused: number;
}

function readFirst(addon: NativeAddon, dirs: string[], file: string): string | null {
  for (const dir of dirs) {
    const [text] = addon.cgroupRead(path.join(dir, file));
    if (text !== null) return text;
  }
  return null;
}

/** A key's number in a flat-keyed file ("oom_kill 2\n..."), or null. */
function keyed(text: string | null, key: string): number | null {
  const m = text === null ? null : new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

const scale = (n: number | null, by: number) => (n === null ? null : n * by);

function single(text: string | null): number | null {
  const n = text === null ? NaN : Number(text.trim());
  return Number.isFinite(n) ? n : null;
}

export function readCgroupStats(addon: NativeAddon, plan: CgroupPlan): CgroupReading {
  const v2 = plan.version === 2;
  const read = (file: string) => readFirst(addon, plan.dirs, file);
  const peak = single(read(v2 ? 'memory.peak' : 'memory.max_usage_in_bytes'));
  const cpuNs = v2 ? scale(keyed(read('cpu.stat'), 'usage_usec'), 1000) : single(read('cpuacct.usage'));
  const oomKills = keyed(read(v2 ? 'memory.events' : 'memory.oom_control'), 'oom_kill') ?? 0;
  const forksRefused = keyed(read('pids.events'), 'max') ?? 0;
  const stats: CgroupStats = { oomKilled: oomKills > 0, pidsLimitHit: forksRefused > 0 };
  if (peak !== null) stats.memoryPeakBytes = peak;
  if (cpuNs !== null) stats.cpuTimeMs = Math.round(cpuNs / 1000) / 1000;
  return { stats, oomKills, forksRefused };
}

/** The value the plan writes to one of `files` (a limit), or null. */
function planned(plan: CgroupPlan, ...files: string[]): string | null {
  return plan.setup.find((w) => files.includes(path.basename(w.path)))?.content ?? null;
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The limits that were hit, in words ("killed: memory limit 256 MiB reached ..."). */
export function logLimitsHit(log: Logger, plan: CgroupPlan, reading: CgroupReading): void {
  if (reading.stats.oomKilled) {
    const limit = planned(plan, 'memory.max', 'memory.limit_in_bytes');
    const what = limit !== null ? `memory limit ${formatSize(Number(limit))}` : 'a memory limit above the jail';
    log.warn(`killed: ${what} reached (the kernel's OOM killer ended ${count(reading.oomKills, 'process', 'processes')})`);
  }
  if (reading.stats.pidsLimitHit) {
    log.warn(`pids limit ${planned(plan, 'pids.max') ?? ''} reached: ${count(reading.forksRefused, 'fork', 'forks')} refused`);
  }
}
