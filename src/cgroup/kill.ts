/**
 * Killing every process in a jail's cgroups, whatever it did: forked, daemonized, escaped its
 * process group, or lived on without a PID namespace.
 *
 * cgroup v2: one write of "1" to cgroup.kill (Linux >= 5.14) SIGKILLs the whole subtree, forks in
 * flight included. cgroup v1: freeze the freezer cgroup first, so no member can fork or exit,
 * then SIGKILL every pid in it (none can be a recycled pid while frozen), then thaw, which lets
 * them die. Without a freezer (or cgroup.kill) the pids are signalled in a few bounded rounds
 * and the supervisor's wait for an empty cgroup signals again whatever is left.
 */
import * as path from 'node:path';
import type { NativeAddon } from '../native/types';
import { cgroupPids, sleep, writeCgroupFile } from './fs';
import { ENOENT } from '../supervisor/errno';

const SIGKILL = 9;
/** How long to wait for a v1 freezer to report FROZEN before killing anyway. */
const FREEZE_WAIT_MS = 100;
const ROUNDS_WITHOUT_FREEZER = 8;

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Blocks for `ms` (killAll is synchronous: it runs from signal handlers and timers). */
function sleepSync(ms: number): void {
  Atomics.wait(pause, 0, 0, ms);
}

function killPids(addon: NativeAddon, pids: number[]): number {
  let n = 0;
  for (const pid of pids) if (addon.cgroupKillPid(pid, SIGKILL) === 0) n++;
  return n;
}

function freezerDir(addon: NativeAddon, dirs: string[]): string | undefined {
  return dirs.find((d) => addon.cgroupRead(path.join(d, 'freezer.state'))[0] !== null);
}

function freezeAndKill(addon: NativeAddon, freezer: string): number {
  const state = path.join(freezer, 'freezer.state');
  if (cgroupPids(addon, freezer).length === 0) return 0;
  writeCgroupFile(addon, state, 'FROZEN');
  const end = Date.now() + FREEZE_WAIT_MS;
  while (addon.cgroupRead(state)[0]?.trim() !== 'FROZEN' && Date.now() < end) sleepSync(1);
  const killed = killPids(addon, cgroupPids(addon, freezer));
  writeCgroupFile(addon, state, 'THAWED');
  return killed;
}

function killInRounds(addon: NativeAddon, dirs: string[]): number {
  let killed = 0;
  const seen = new Set<number>();
  for (let round = 0; round < ROUNDS_WITHOUT_FREEZER; round++) {
    const fresh = dirs.flatMap((d) => cgroupPids(addon, d)).filter((pid) => !seen.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) seen.add(pid);
    killed += killPids(addon, fresh);
  }
  return killed;
}

/**
 * SIGKILLs every process in the cgroups `dirs` of one jail (v2: one directory). Returns how many
 * processes were signalled one by one (cgroup.kill does not say, so it counts as 0).
 */
export function killCgroup(addon: NativeAddon, version: 1 | 2, dirs: string[]): number {
  if (version === 2) {
    const fallback = dirs.filter((d) => writeCgroupFile(addon, path.join(d, 'cgroup.kill'), '1') === ENOENT);
    return fallback.length > 0 ? killInRounds(addon, fallback) : 0;
  }
  const freezer = freezerDir(addon, dirs);
  return freezer !== undefined ? freezeAndKill(addon, freezer) : killInRounds(addon, dirs);
}

function isEmpty(addon: NativeAddon, version: 1 | 2, dir: string): boolean {
  if (version === 2) {
    // "populated" covers the whole subtree; a vanished cgroup is empty too.
    const [events] = addon.cgroupRead(path.join(dir, 'cgroup.events'));
    return events === null || /^populated 0$/m.test(events);
  }
  return cgroupPids(addon, dir).length === 0;
}

/**
 * Waits (bounded) until no process is left in `dirs`, killing again each time something is
 * still there. Resolves to true when they are empty.
 */
export async function killUntilEmpty(addon: NativeAddon, version: 1 | 2, dirs: string[], timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    if (dirs.every((d) => isEmpty(addon, version, d))) return true;
    if (Date.now() >= end) return false;
    killCgroup(addon, version, dirs);
    await sleep(delay);
  }
}
