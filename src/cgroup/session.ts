/**
 * The cgroup side of one jail while it runs: created before launch from the plan's CgroupPlan,
 * killed and read back after the jail, and always removed.
 *
 * Before launch: cgroups of dead supervisors are swept (sweep.ts); the jail's directories are
 * created, with missing parents (shared by this process's jails and removed after the last of
 * them, see fs.ts); the setup writes are applied in order — a v2 cgroup.subtree_control write
 * refused because this very process sits in that cgroup moves the process into a leaf and is
 * retried (move.ts); any other failure removes what was made and stops the launch. After
 * launch: killAll() on timeout, abort or a signal to jail; finish() once the jail's init is
 * reaped.
 */
import * as path from 'node:path';
import { formatSize } from '../config/size';
import { JailError } from '../errors';
import type { NativeAddon } from '../native/types';
import { parseCgroupName, type CgroupOwner } from './name';
import type { CgroupPlan } from './plan';
import { cgroupFileError, internalProcessesMessage, OWN_CGROUP_HINT } from './errors';
import { cgroupPids, makeJailDir, releaseParents, removeCgroupTree, removeCgroupTreeWithin, writeCgroupFile } from './fs';
import { killCgroup, killUntilEmpty } from './kill';
import { moveSelfOut } from './move';
import { logLimitsHit, readCgroupStats } from './stats';
import { sweepStaleCgroups } from './sweep';
import { EBUSY, errnoText } from '../supervisor/errno';
import type { Logger } from '../supervisor/log';
import type { CgroupStats } from '../supervisor/report';

/** How long the jail's cgroups may take to empty and disappear after its end. */
const FINISH_TIMEOUT_MS = 2000;

export interface CgroupSession {
  /** Directory fd for CLONE_INTO_CGROUP, or -1. */
  readonly cloneFd: number;
  /**
   * Kills every process in the jail's cgroups (kill.ts); resolves once the signals are sent.
   * Never rejects (a failure is logged); a call while one is under way shares it.
   */
  killAll(): Promise<void>;
  /** After the jail's init was reaped: kills leftovers, reads the accounting, removes the directories. */
  finish(): Promise<CgroupStats>;
  /** Removes everything without reading it (the launch failed). */
  destroy(): void;
}

function ownerOf(plan: CgroupPlan): CgroupOwner {
  const parsed = parseCgroupName(path.basename(plan.dirs[0] ?? ''));
  if (parsed?.kind !== 'jail') throw new JailError('internal', `plan.cgroup.dirs[0] is not a jail cgroup name: ${plan.dirs[0]}`);
  return parsed.owner;
}

function applySetup(addon: NativeAddon, plan: CgroupPlan, self: CgroupOwner, log: Logger): void {
  for (const { path: file, content } of plan.setup) {
    let err = writeCgroupFile(addon, file, content);
    const cgroup = path.dirname(file);
    const subtree = path.basename(file) === 'cgroup.subtree_control';
    if (err === EBUSY && subtree && moveSelfOut(addon, cgroup, path.dirname(plan.dirs[0]), self, log)) {
      err = writeCgroupFile(addon, file, content);
    }
    if (err === EBUSY && subtree) {
      const others = cgroupPids(addon, cgroup);
      throw new JailError('cgroup', internalProcessesMessage(cgroup, [content.replace(/^\+/, '')], others), { hint: OWN_CGROUP_HINT });
    }
    if (err !== 0) throw cgroupFileError(plan.version, 'write', file, err, content);
  }
}

/** Removes the jail's directories, then the parents this process made for them (fs.ts). */
async function removeAll(addon: NativeAddon, dirs: string[], parents: string[], log: Logger): Promise<void> {
  await Promise.all(
    dirs.map(async (dir) => {
      const err = await removeCgroupTreeWithin(addon, dir, FINISH_TIMEOUT_MS);
      if (err !== 0) log.warn(`cannot remove cgroup ${dir}: ${errnoText(err)}; it stays until this process ends and a later run removes it`);
    }),
  );
  releaseParents(addon, parents);
}

export function openCgroupSession(addon: NativeAddon, plan: CgroupPlan, log: Logger): CgroupSession {
  const self = ownerOf(plan);
  const sweep = sweepStaleCgroups(addon, plan, self, log);
  const made: string[] = [];
  const parents: string[] = [];
  let cloneFd = -1;
  try {
    for (const dir of plan.dirs) {
      parents.push(...makeJailDir(addon, dir, plan.version));
      made.push(dir);
    }
    applySetup(addon, plan, self, log);
    if (plan.cloneInto !== null) cloneFd = addon.openPath(plan.cloneInto, true);
    log.debug(`cgroup v${plan.version}: ${plan.dirs.join(', ')}`);
  } catch (e) {
    for (const dir of made) removeCgroupTree(addon, dir);
    releaseParents(addon, parents);
    throw e;
  }

  const closeFd = () => {
    if (cloneFd >= 0) addon.close(cloneFd);
    cloneFd = -1;
  };
  // One kill at a time: a second v1 freeze would be undone by the first one's thaw.
  let killing: Promise<void> | null = null;
  const killAll = (): Promise<void> =>
    (killing ??= killCgroup(addon, plan.version, plan.dirs)
      .then(
        () => undefined,
        (e) => log.warn(`cannot kill the processes in ${plan.dirs.join(', ')}: ${(e as Error).message}`),
      )
      .finally(() => {
        killing = null;
      }));
  return {
    get cloneFd() {
      return cloneFd;
    },
    killAll,
    async finish() {
      closeFd();
      await killAll();
      if (!(await killUntilEmpty(addon, plan.version, plan.dirs, FINISH_TIMEOUT_MS))) {
        log.warn(`processes of the jail are still in ${plan.dirs.join(', ')} ${FINISH_TIMEOUT_MS} ms after it was killed`);
      }
      const reading = readCgroupStats(addon, plan);
      await removeAll(addon, plan.dirs, parents, log);
      await sweep;
      logLimitsHit(log, plan, reading);
      const { memoryPeakBytes: peak, cpuTimeMs: cpu } = reading.stats;
      log.debug(`cgroup accounting: memory peak ${peak === undefined ? 'unknown' : formatSize(peak)}, CPU time ${cpu ?? 'unknown'} ms`);
      return reading.stats;
    },
    destroy() {
      closeFd();
      void killAll().then(() => removeAll(addon, plan.dirs, parents, log));
    },
  };
}
