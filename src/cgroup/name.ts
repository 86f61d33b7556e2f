/**
 * Names of the cgroups jail creates, shared by the planner (which names a jail's cgroup) and the
 * supervisor (which recognises cgroups left behind by a supervisor that was killed).
 *
 *   <parent>/<pid>.<start>.<pidns>.<seq>       one jail
 *   <parent>/supervisor.<pid>.<start>.<pidns>  cgroup v2 only: the leaf a supervising process
 *                                              moved itself into (no-internal-processes rule)
 *
 * `pid.start.pidns` names the supervising process: its pid, its start time (clock ticks after
 * boot, field 22 of /proc/PID/stat) and the inode of its pid namespace. Together they say for
 * certain whether that process still runs: a recycled pid has another start time, and a process
 * in another pid namespace (a container sharing the cgroup tree) is not judged at all, since
 * its pid means nothing here. `seq` keeps concurrent jails of one process apart.
 */

/** The supervising process, as cgroup names carry it. */
export interface CgroupOwner {
  pid: number;
  /** Start time in clock ticks after boot. */
  start: number;
  /** Inode number of the pid namespace. */
  pidns: number;
}

/** The directory (below the cgroup v2 base) that holds every jail cgroup and supervisor leaf. */
export const V2_GROUP = 'JAIL';

const SUPERVISOR = 'supervisor';
const OWNER = String.raw`(\d+)\.(\d+)\.(\d+)`;
const JAIL_RE = new RegExp(`^${OWNER}\\.(\\d+)$`);
const SUPERVISOR_RE = new RegExp(`^${SUPERVISOR}\\.${OWNER}$`);

function ownerText(o: CgroupOwner): string {
  return `${o.pid}.${o.start}.${o.pidns}`;
}

export function jailCgroupName(owner: CgroupOwner, seq: number): string {
  return `${ownerText(owner)}.${seq}`;
}

export function supervisorLeafName(owner: CgroupOwner): string {
  return `${SUPERVISOR}.${ownerText(owner)}`;
}

/** Whose cgroup `name` is: a jail's, a supervisor leaf, or none of ours (null). */
export function parseCgroupName(name: string): { kind: 'jail' | 'supervisor'; owner: CgroupOwner } | null {
  const jail = JAIL_RE.exec(name);
  const leaf = jail ? null : SUPERVISOR_RE.exec(name);
  const m = jail ?? leaf;
  if (!m) return null;
  const owner = { pid: Number(m[1]), start: Number(m[2]), pidns: Number(m[3]) };
  if (!Object.values(owner).every(Number.isSafeInteger)) return null;
  return { kind: jail ? 'jail' : 'supervisor', owner };
}

export function sameOwner(a: CgroupOwner, b: CgroupOwner): boolean {
  return a.pid === b.pid && a.start === b.start && a.pidns === b.pidns;
}
