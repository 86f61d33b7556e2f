/**
 * The native launcher (jail_exec) launches a planned jail with the same code as the addon and only
 * waits for it (native/exec_main.cc). No Node supervisor stays behind: `jail -Me` execs it in
 * place of this process (execveJail); boxes without a network start it as a process of their own
 * (spawnLauncher), so their supervisor costs almost nothing while they idle.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { openCgroupSession, type CgroupSession } from '../cgroup';
import { processStartTime } from '../cgroup/facts';
import type { CgroupOwner } from '../cgroup/name';
import { realHost, type HostFacts } from '../sandbox/host';
import { JailError } from '../errors';
import { builtProgram, loadAddon } from '../native/addon';
import type { PlannedJail } from '../sandbox';
import type { Logger } from './log';
import { describeStep } from './setup-error';

/** What the launcher prints for a failed step: the addon's stages, then each mount. */
function failureTexts(planned: PlannedJail): string[] {
  const addon = loadAddon();
  return [...addon.stageNames().map((stage) => describeStep(planned, stage, -1)), ...planned.plan.mounts.map((_, i) => describeStep(planned, 'mount', i))];
}

export function execveJail(planned: PlannedJail, timeLimit: number, log: Logger): never {
  const addon = loadAddon();
  const texts = failureTexts(planned);
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

export interface LaunchedJail {
  /** The launcher's pid: the jail's supervisor from now on. */
  pid: number;
  planned: PlannedJail;
}

/**
 * Starts the launcher as a process of its own (detached, in its own session; its stdout and
 * stderr on `output`) and hands it the jail that `plan` makes, planned with the launcher as the
 * cgroups' owner: a jail's cgroups carry the name of the process that supervises it (src/cgroup/
 * name.ts), so the next run's sweep leaves them alone while the launcher lives and removes them
 * once it is gone. Without clone-into-cgroup (no directory fd can reach the launcher later) the
 * child is attached by pid before it runs, as on kernels before 5.7. `keepFds` (the jail's
 * inherited fds) and the binary at `execPath` (exec_fd) are held by the launcher at the same
 * numbers; `env` is the launcher's own (the jail's comes from the plan). Boxes use it: no Node
 * process on the way, and none left.
 */
export function spawnLauncher(keepFds: number[], execPath: string, output: number, env: NodeJS.ProcessEnv, plan: (host: HostFacts) => PlannedJail, log: Logger): LaunchedJail {
  const addon = loadAddon();
  const [planRead, planWrite] = addon.pipe();
  const execFd = addon.openPath(execPath, false);
  let child: ChildProcess | null = null;
  let cgroup: CgroupSession | null = null;
  try {
    const fds = [...keepFds, execFd, planRead];
    const stdio: Array<'ignore' | number> = Array.from({ length: Math.max(...fds) + 1 }, () => 'ignore');
    stdio[1] = output;
    stdio[2] = output;
    // stdio[n] is the child's fd n: each fd at its own number.
    for (const fd of fds) stdio[fd] = fd;
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    child = spawn(builtProgram('jail_exec'), ['--plan-fd', String(planRead)], { detached: true, stdio, env });
    child.unref();
    const start = child.pid === undefined ? null : processStartTime(child.pid);
    if (child.pid === undefined || start === null) throw new JailError('setup', 'the jail launcher (jail_exec) did not start', { hint: 'rebuild the addon (npm run build:native) so build/Release/jail_exec exists' });
    const real = realHost();
    const owner: CgroupOwner = { pid: child.pid, start, pidns: real.cgroups().owner.pidns };
    const planned = plan({ ...real, cgroups: () => ({ ...real.cgroups(), owner, cloneIntoCgroup: false }) });
    cgroup = planned.plan.cgroup ? openCgroupSession(addon, planned.plan.cgroup, log) : null;
    const resources = { stdio: [0, 1, 2] as [number, number, number], passFds: planned.passFds, execFd, cgroupFd: -1, netGate: [-1, -1] as [number, number] };
    const bytes = addon.launcherPlan(planned.plan, resources, failureTexts(planned), 0);
    // The launcher reads to end of file.
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(planWrite, bytes, done);
    return { pid: child.pid, planned };
  } catch (e) {
    // Whatever it read so far is no plan: it exits; this makes sure.
    child?.kill('SIGKILL');
    cgroup?.destroy();
    throw e;
  } finally {
    for (const fd of [planRead, planWrite, execFd]) addon.close(fd);
  }
}
