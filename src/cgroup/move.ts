/**
 * cgroup v2's "no internal processes" rule meets the supervisor: a cgroup other than the root
 * can enable controllers for its children (cgroup.subtree_control) only while it holds no
 * process itself. When jail runs alone in a cgroup of its own — `systemd-run --scope`, a
 * delegated user scope, a container's only process — and the jails go below that cgroup, the
 * write fails with EBUSY because of jail itself. The supervising process then moves into a leaf
 * of its own, `<base>/JAIL/supervisor.<pid>.<start>.<pidns>`, and the write is retried.
 *
 * The move is of the whole process (cgroup.procs moves every thread; Node has several), and
 * everything it starts afterwards starts in the leaf too. The leaf stays while the process
 * lives (a cgroup cannot be removed while it holds a process) and is removed by the first run
 * after the process is gone (sweep.ts). If other processes share the
 * cgroup, moving jail alone cannot help; the error says so.
 */
import * as path from 'node:path';
import type { NativeAddon } from '../native/types';
import { supervisorLeafName, type CgroupOwner } from './name';
import { cgroupFileError } from './errors';
import { cgroupPids, makeCgroupDir, writeCgroupFile } from './fs';
import { EEXIST } from '../supervisor/errno';
import type { Logger } from '../supervisor/log';

/**
 * Moves this process out of `cgroup` into its leaf in `group` when it is in `cgroup`. Returns
 * false when it was not there (so moving cannot help).
 */
export function moveSelfOut(addon: NativeAddon, cgroup: string, group: string, self: CgroupOwner, log: Logger): boolean {
  if (!cgroupPids(addon, cgroup).includes(process.pid)) return false;
  const leaf = path.join(group, supervisorLeafName(self));
  const made = makeCgroupDir(addon, leaf);
  if (made !== 0 && made !== EEXIST) throw cgroupFileError(2, 'create', leaf, made);
  const procs = path.join(leaf, 'cgroup.procs');
  const err = writeCgroupFile(addon, procs, String(process.pid));
  if (err !== 0) throw cgroupFileError(2, 'write', procs, err, String(process.pid));
  log.info(
    `moved this process (pid ${process.pid}) from ${cgroup} into ${leaf}: cgroup v2 lets ${cgroup} enable controllers for the jails only while no process is in it`,
  );
  return true;
}
