/**
 * Nothing of a jail outlives it: after jails that exit, time out, are aborted or killed, leave
 * daemons behind without a PID namespace, or never start, no cgroup directory, process, mount or
 * fd of ours remains; a `jail` CLI stopped by a signal cleans up; one that is SIGKILLed leaves
 * its cgroups behind, and the next run removes them and kills what is in them — in every
 * hierarchy, also those the next run does not use; parents jail created are gone after the run.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import {
  cli,
  JAIL_BIN,
  killNamed,
  killSpawned,
  liveProcessesNamed,
  mountCount,
  openFdCount,
  probePath,
  runFlags,
  sleep,
  survivorsNamed,
  SYSTEM_PATH,
  waitFor,
} from '../core/helpers';
import { cgroupsNamed, cgroupsOfSupervisor, cgroupVersion, processesInCgroupsOf, removeEmptyCgroups } from './helpers';

describeAsRoot('cgroup cleanup', () => {
  beforeAll(() => {
    cgroupVersion();
    probePath();
  });
  afterEach(() => {
    killSpawned();
    killNamed('probe-daemon');
  });
  afterAll(() => killNamed('probe-daemon'));

  it('after 100 jails (exited, timed out, aborted, killed, daemonized without a PID namespace, OOM, failed) nothing of ours remains', async () => {
    const probe = probePath();
    const before = { mounts: mountCount(), fds: openFdCount() };
    const kinds: Array<[string, () => Promise<unknown>]> = [
      ['exit', () => runFlags(['--chroot', '/'], [probe, 'none'])],
      ['timeout', () => runFlags(['--chroot', '/', '-t', '1'], [probe, 'sleep:30'])],
      [
        'abort',
        () => {
          const ac = new AbortController();
          setTimeout(() => ac.abort(), 200);
          return runFlags(['--chroot', '/'], [probe, 'sleep:30'], { signal: ac.signal });
        },
      ],
      ['kill', () => runFlags(['--chroot', '/'], [probe, 'sleep:30'], { onStart: (j) => setTimeout(() => j.kill('SIGKILL'), 100) })],
      ['daemon', () => runFlags(['--chroot', '/', '--disable_clone_newpid', '--disable_proc', '-t', '1'], [probe, 'daemonize:30', 'sleep:30'])],
      ['oom', () => runFlags(['--chroot', '/', '--memory', '32M'], [probe, 'alloc:256'])],
      ['limits', () => runFlags(['--chroot', '/', '--pids', '16', '--cpus', '1'], [probe, 'fork:20'])],
      ['setup-failed', () => runFlags(['--chroot', '/', '--cwd', '/nonexistent-dir'], [probe, 'none'])],
    ];
    const outcomes: Record<string, number> = {};
    const start = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => {
          const [kind, go] = kinds[(batch * 10 + i) % kinds.length];
          return go().then((r) => `${kind}:${(r as { outcome: string }).outcome}`);
        }),
      );
      for (const r of results) outcomes[r] = (outcomes[r] ?? 0) + 1;
    }
    console.log(`100 jails in ${Date.now() - start} ms: ${JSON.stringify(outcomes)}`);
    expect(outcomes['timeout:timeout']).toBeGreaterThan(0);
    expect(outcomes['oom:oom']).toBeGreaterThan(0);
    expect(outcomes['daemon:timeout']).toBeGreaterThan(0);
    expect(outcomes['setup-failed:setup-failed']).toBeGreaterThan(0);
    expect(cgroupsOfSupervisor(process.pid)).toEqual([]);
    expect(processesInCgroupsOf(process.pid)).toEqual([]);
    expect(await survivorsNamed('probe-daemon')).toEqual([]);
    expect(liveProcessesNamed('probe').filter((p) => p.ppid === process.pid)).toEqual([]);
    expect(mountCount()).toBe(before.mounts);
    expect(openFdCount()).toBe(before.fds);
  });

  it('a jail CLI stopped by SIGTERM kills the jail and removes its cgroups', async () => {
    let cliPid = 0;
    const run = cli(['--chroot', '/', '--', probePath(), 'sleep:30'], {
      onSpawn: (child) => {
        cliPid = child.pid!;
      },
    });
    await waitFor(() => cliPid > 0 && processesInCgroupsOf(cliPid).length > 0, 10_000, 'the jail to start');
    process.kill(cliPid, 'SIGTERM');
    const result = await run;
    expect(result.code).toBe(143);
    expect(cgroupsOfSupervisor(cliPid)).toEqual([]);
    expect(processesInCgroupsOf(cliPid)).toEqual([]);
  });

  it('a jail CLI whose stderr reader went away (jail ... 2>&1 | head -1) still removes its cgroups, and exits with the jail\'s status', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [JAIL_BIN, '--chroot', '/', '--', probePath(), 'sleep:0.3'], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: SYSTEM_PATH } });
    // Gone before the CLI's first log line: every write to stderr then fails with EPIPE.
    child.stderr!.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(cgroupsOfSupervisor(child.pid!)).toEqual([]);
  });

  it('cgroups of a SIGKILLed jail CLI stay with what ran in them, until the next run kills it and removes them', async () => {
    let cliPid = 0;
    const run = cli(['--chroot', '/', '--disable_clone_newpid', '--disable_proc', '--', probePath(), 'daemonize:60', 'sleep:60'], {
      onSpawn: (child) => {
        cliPid = child.pid!;
      },
    });
    // The daemon (setsid, double fork) is in the jail's cgroup, outside its process group.
    await waitFor(() => cliPid > 0 && liveProcessesNamed('probe-daemon').some((p) => processesInCgroupsOf(cliPid).includes(p.pid)), 10_000, 'the daemon');
    process.kill(cliPid, 'SIGKILL');
    await run;
    await sleep(100);
    const left = cgroupsOfSupervisor(cliPid);
    expect(left.length).toBeGreaterThan(0);
    const daemons = processesInCgroupsOf(cliPid);
    expect(daemons.length).toBeGreaterThan(0);

    const next = await runFlags(['--chroot', '/'], [probePath(), 'none']);
    expect(next.outcome).toBe('exited');
    expect(next.logs.some((l) => l.includes(`left by jail supervisor pid ${cliPid} (no longer running)`))).toBe(true);
    expect(cgroupsOfSupervisor(cliPid)).toEqual([]);
    expect(processesInCgroupsOf(cliPid)).toEqual([]);
    expect(await survivorsNamed('probe-daemon')).toEqual([]);
  });

  it('cgroups of a SIGKILLed jail CLI are removed from every hierarchy by the next run, also from those it does not use', async () => {
    let cliPid = 0;
    const run = cli(['--chroot', '/', '--cgroup_mem_max', '268435456', '--cgroup_pids_max', '64', '--', probePath(), 'sleep:60'], {
      onSpawn: (child) => {
        cliPid = child.pid!;
      },
    });
    const pidsHierarchy = cgroupVersion() === 1 ? '/pids/' : '/';
    await waitFor(() => cliPid > 0 && processesInCgroupsOf(cliPid).length > 0 && cgroupsOfSupervisor(cliPid).some((d) => d.includes(pidsHierarchy)), 10_000, 'the jail to start');
    process.kill(cliPid, 'SIGKILL');
    await run;
    // The jail dies with its supervisor (parent-death signal); its cgroups stay.
    await waitFor(() => processesInCgroupsOf(cliPid).length === 0, 5_000, 'the jail to die with its supervisor');
    const left = cgroupsOfSupervisor(cliPid);
    expect(left.some((d) => d.includes(pidsHierarchy))).toBe(true);

    try {
      const next = await runFlags(['--chroot', '/', '--cgroup_mem_max', '268435456'], [probePath(), 'none']);
      expect(next.outcome, next.logs.join('\n')).toBe('exited');
      expect(cgroupsOfSupervisor(cliPid)).toEqual([]);
    } finally {
      removeEmptyCgroups(cgroupsOfSupervisor(cliPid));
    }
  });

  it('parents that jail created for its cgroups are removed after the run, in every hierarchy', async () => {
    const parent = `jail-it-parent-${process.pid}`;
    const flags =
      cgroupVersion() === 1
        ? ['--cgroup_mem_parent', `${parent}/mem`, '--cgroup_pids_parent', `${parent}/pids`, '--cgroup_cpu_parent', parent]
        : ['--cgroupv2_mount', `/sys/fs/cgroup/${parent}`];
    expect(cgroupsNamed(parent)).toEqual([]);
    try {
      const result = await runFlags(['--chroot', '/', '--cgroup_mem_max', '268435456', '--cgroup_pids_max', '64', '--cpus', '1', ...flags], [probePath(), 'none']);
      expect(result.outcome, result.logs.join('\n')).toBe('exited');
      expect(cgroupsNamed(parent)).toEqual([]);
      expect(cgroupsOfSupervisor(process.pid)).toEqual([]);
    } finally {
      removeEmptyCgroups(cgroupsNamed(parent));
    }
  });
});
