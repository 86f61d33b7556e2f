/**
 * Killing every process in a jail's cgroups, whatever it did: forked, daemonized, escaped its
 * process group, or lived on without a PID namespace — and never a process outside them.
 *
 * A pid read from cgroup.procs may belong to another process by the time it is signalled (the
 * member exited and the kernel handed its number on), and jail signals as root. So no signal goes
 * by pid number:
 *  - cgroup v2: one write of "1" to cgroup.kill (Linux >= 5.14) SIGKILLs the whole subtree, forks
 *    in flight included; the kernel does the listing.
 *  - otherwise signalMembers(): a pidfd is opened for every listed pid, cgroup.procs is read
 *    again, and only the pids still listed are signalled, through their pidfd. A pidfd names one
 *    process for good, so a pid listed after its pidfd was opened is that process's (if it has
 *    exited meanwhile, the signal goes nowhere).
 *  - cgroup v1 with a freezer: freeze first, so no member can fork meanwhile; wait for FROZEN
 *    without blocking the event loop, for a bounded time (a member in uninterruptible sleep can
 *    hold it up); signal the members; thaw, which lets them die.
 *  - v1 without a freezer, v2 without cgroup.kill: a few rounds of signalMembers(), each catching
 *    children forked before the previous round's signals landed; killUntilEmpty() then signals
 *    again whatever is left.
 */
import * as path from 'node:path';
import type { NativeAddon } from '../native/types';
import { ENOENT } from '../supervisor/errno';
import { cgroupPids, sleep, writeCgroupFile } from './fs';

const SIGKILL = 9;
/** How long to wait for a v1 freezer to report FROZEN before signalling anyway. */
const FREEZE_WAIT_MS = 100;
const ROUNDS_WITHOUT_FREEZER = 8;

/**
 * SIGKILLs, through pidfds, the members of `dir` listed in its cgroup.procs and not in `done`;
 * adds the pids it signalled to `done` and returns how many.
 */
function signalMembers(addon: NativeAddon, dir: string, done: Set<number>): number {
  const pidfds = new Map<number, number>();
  let signalled = 0;
  try {
    for (const pid of cgroupPids(addon, dir)) {
      if (done.has(pid) || pidfds.has(pid)) continue;
      const fd = addon.pidfdOpen(pid);
      if (fd >= 0) pidfds.set(pid, fd);
    }
    if (pidfds.size === 0) return 0;
    // Read after every pidfd is open: see the header.
    const members = new Set(cgroupPids(addon, dir));
    for (const [pid, fd] of pidfds) {
      if (!members.has(pid)) continue;
      done.add(pid);
      if (addon.kill(fd, SIGKILL) === 0) signalled++;
    }
  } finally {
    for (const fd of pidfds.values()) addon.close(fd);
  }
  return signalled;
}

function killInRounds(addon: NativeAddon, dirs: string[]): number {
  const done = new Set<number>();
  let signalled = 0;
  for (let round = 0; round < ROUNDS_WITHOUT_FREEZER; round++) {
    const now = dirs.reduce((n, d) => n + signalMembers(addon, d, done), 0);
    if (now === 0) break;
    signalled += now;
  }
  return signalled;
}

function freezerDir(addon: NativeAddon, dirs: string[]): string | undefined {
  return dirs.find((d) => addon.cgroupRead(path.join(d, 'freezer.state'))[0] !== null);
}

async function frozenWithin(addon: NativeAddon, state: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (addon.cgroupRead(state)[0]?.trim() === 'FROZEN') return true;
    if (Date.now() >= end) return false;
    await sleep(1);
  }
}

async function freezeAndKill(addon: NativeAddon, freezer: string): Promise<number> {
  const state = path.join(freezer, 'freezer.state');
  if (cgroupPids(addon, freezer).length === 0) return 0;
  writeCgroupFile(addon, state, 'FROZEN');
  try {
    // Not frozen in time: signalling is just as safe (pidfds), only a fork may slip through,
    // which killUntilEmpty() catches.
    await frozenWithin(addon, state, FREEZE_WAIT_MS);
    return signalMembers(addon, freezer, new Set());
  } finally {
    writeCgroupFile(addon, state, 'THAWED');
  }
}

/**
 * SIGKILLs every process in the cgroups `dirs` of one jail (v2: one directory). Resolves to how
 * many processes were signalled one by one (cgroup.kill does not say, so it counts as 0). What
 * needs no waiting happens before it returns; only the wait for a v1 freezer is asynchronous.
 */
export async function killCgroup(addon: NativeAddon, version: 1 | 2, dirs: string[]): Promise<number> {
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
    await killCgroup(addon, version, dirs);
    await sleep(delay);
  }
}
