/**
 * Cleaning up after supervisors that died without cleaning up (SIGKILL, OOM, power loss of the
 * process): before a jail's cgroups are created, the parents they go into are searched for
 * cgroups jail named (name.ts) whose supervising process no longer runs. On cgroup v1 the same
 * parents are searched in every mounted hierarchy, not only in those this jail uses: a dead
 * supervisor's jail may have had limits (pids, cpu) this one does not. Their processes are
 * killed and the directories removed.
 *
 * A cgroup is only touched when its name says for certain that its supervisor is gone: same pid
 * namespace as ours, and no process with that pid and start time. Cgroups of live supervisors
 * (other processes, or this one), a dead supervisor's leaf this process now runs in, and
 * anything not named by jail are left alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NativeAddon } from '../native/types';
import { cgroupMounts, processStartTime, type CgroupMount } from './facts';
import { parseCgroupName, sameOwner, type CgroupOwner } from './name';
import type { CgroupPlan } from './plan';
import { removeCgroupTreeWithin, subCgroups } from './fs';
import { killCgroup, killUntilEmpty } from './kill';
import type { Logger } from '../supervisor/log';

/** Bounds one sweep; anything beyond is left for the next one. */
const MAX_STALE = 64;
const REMOVE_TIMEOUT_MS = 2000;

function isGone(owner: CgroupOwner): boolean {
  return processStartTime(owner.pid) !== owner.start;
}

/**
 * A process started in a dead supervisor's leaf (it inherited it) lives there now: killing that
 * cgroup would kill this very process.
 */
function holdsThisProcess(dir: string): boolean {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(process.pid));
  } catch {
    return false;
  }
}

/** The plan's parents; on v1 also the same places in every other mounted v1 hierarchy. */
function parentsToSearch(plan: CgroupPlan, mounts: CgroupMount[]): Set<string> {
  const parents = new Set(plan.dirs.map((d) => path.dirname(d)));
  if (plan.version === 2) return parents;
  const v1 = mounts.filter((m) => m.version === 1).map((m) => m.path);
  for (const parent of [...parents]) {
    const own = v1.filter((m) => parent === m || parent.startsWith(`${m}/`)).sort((a, b) => b.length - a.length)[0];
    if (own === undefined) continue;
    for (const m of v1) parents.add(path.join(m, path.relative(own, parent)));
  }
  return parents;
}

/** Stale cgroup names under the parents to search -> their directories (one per v1 hierarchy). */
export function findStale(plan: CgroupPlan, self: CgroupOwner, mounts: CgroupMount[]): Map<string, string[]> {
  const stale = new Map<string, string[]>();
  for (const parent of parentsToSearch(plan, mounts)) {
    for (const dir of subCgroups(parent)) {
      const name = path.basename(dir);
      const parsed = parseCgroupName(name);
      if (!parsed || sameOwner(parsed.owner, self) || parsed.owner.pidns !== self.pidns || !isGone(parsed.owner) || holdsThisProcess(dir)) continue;
      if (!stale.has(name) && stale.size >= MAX_STALE) continue;
      stale.set(name, [...(stale.get(name) ?? []), dir]);
    }
  }
  return stale;
}

/**
 * Kills what is left in stale cgroups (starting at once, before a new jail starts next to them)
 * and resolves once they are removed (or could not be: logged, and tried again next time).
 */
export function sweepStaleCgroups(addon: NativeAddon, plan: CgroupPlan, self: CgroupOwner, log: Logger): Promise<void> {
  const stale = findStale(plan, self, cgroupMounts());
  const jobs = [...stale].map(async ([name, dirs]) => {
    const killed = await killCgroup(addon, plan.version, dirs);
    await killUntilEmpty(addon, plan.version, dirs, REMOVE_TIMEOUT_MS);
    const errs = await Promise.all(dirs.map((d) => removeCgroupTreeWithin(addon, d, REMOVE_TIMEOUT_MS)));
    const pid = parseCgroupName(name)!.owner.pid;
    const left = dirs.filter((_, i) => errs[i] !== 0);
    if (left.length > 0) log.warn(`cannot remove ${left.join(', ')}, left by jail supervisor pid ${pid} (no longer running); the next run tries again`);
    else log.info(`removed ${dirs.join(', ')}, left by jail supervisor pid ${pid} (no longer running)${killed > 0 ? `; killed ${killed} process${killed === 1 ? '' : 'es'} left in it` : ''}`);
  });
  // Housekeeping must never fail the jail that happened to find the mess.
  return Promise.all(jobs).then(
    () => undefined,
    (e) => log.warn(`cleaning up stale cgroups failed: ${(e as Error).message}`),
  );
}
