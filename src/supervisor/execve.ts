/**
 * Execve mode: the addon execs the small native launcher (jail_exec) in place of this process,
 * which launches the planned jail with the same code and only waits for it (native/exec_main.cc).
 * No Node supervisor stays behind: used by `jail -Me` and by boxes without a network, whose
 * supervisor must cost almost nothing while the box idles.
 */
import { openCgroupSession } from '../cgroup';
import { JailError } from '../errors';
import { builtProgram, loadAddon } from '../native/addon';
import type { PlannedJail } from '../sandbox';
import type { Logger } from './log';
import { describeStep } from './setup-error';

export function execveJail(planned: PlannedJail, timeLimit: number, log: Logger): never {
  const addon = loadAddon();
  const texts = [...addon.stageNames().map((stage) => describeStep(planned, stage, -1)), ...planned.plan.mounts.map((_, i) => describeStep(planned, 'mount', i))];
  const execFd = planned.execFdPath !== null ? addon.openPath(planned.execFdPath, false) : -1;
  // The jail's cgroups are made here; the launcher joins the child to them. Nothing stays to
  // remove them: they carry this process's identity, which the launcher keeps (execve keeps
  // pid and start time), so the first run after it ends removes them (src/cgroup/sweep.ts).
  const cgroup = planned.plan.cgroup ? openCgroupSession(addon, planned.plan.cgroup, log) : null;
  const resources = { stdio: [0, 1, 2] as [number, number, number], passFds: planned.passFds, execFd, cgroupFd: cgroup?.cloneFd ?? -1, netGate: [-1, -1] as [number, number] };
  try {
    return addon.execveMode(planned.plan, resources, builtProgram('jail_exec'), texts, timeLimit);
  } catch (e) {
    cgroup?.destroy();
    throw new JailError('setup', `execve mode: cannot hand the jail over to the launcher: ${(e as Error).message}`, {
      hint: 'rebuild the addon (npm run build:native) so build/Release/jail_exec exists',
    });
  }
}
