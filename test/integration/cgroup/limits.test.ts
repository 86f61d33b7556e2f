/**
 * cgroup limits in the real kernel, through run() and the probe: the memory cap ends a 2 GiB
 * allocation as 'oom', the pids cap contains a fork bomb while the host keeps working, the CPU
 * cap holds a busy loop near its share — on cgroup v1 or v2, whichever this host has, checking
 * that version's files while the jail runs.
 */
import { execFile } from 'node:child_process';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { killNamed, killSpawned, probePath, runFlags, runProbe, sleep, survivorsNamed } from '../core/helpers';
import { cgroupsOfSupervisor, cgroupVersion, controllerDir, processesInCgroupsOf, readCgroupFile } from './helpers';

const MiB = 1024 * 1024;

/** The host can still fork: /bin/true's exit code, without blocking the event loop. */
const trueExitCode = () => new Promise<number | null>((resolve) => execFile('/bin/true', { timeout: 5000 }, (e) => resolve(e ? ((e as { code?: number }).code ?? null) : 0)));

describeAsRoot('cgroup limits', () => {
  let version: 1 | 2;
  beforeAll(() => {
    version = cgroupVersion();
    probePath();
  });
  afterEach(() => {
    killSpawned();
    killNamed('probe-fork');
  });

  it('the limits are in the kernel while the jail runs (v1: memory.limit_in_bytes, memsw, pids.max, cfs quota; v2: memory.max, swap.max, oom.group, pids.max, cpu.max)', async () => {
    const files: Record<string, string> = {};
    const result = await runFlags(['--chroot', '/', '--memory', '256M', '--pids', '64', '--cpus', '0.5'], [probePath(), 'sleep:30'], {
      onStart: (jail) => {
        try {
          const mem = controllerDir(jail.pid, 'memory', version);
          const pids = controllerDir(jail.pid, 'pids', version);
          const cpu = controllerDir(jail.pid, 'cpu', version);
          const read = (dir: string, f: string) => (files[f] = readCgroupFile(dir, f));
          if (version === 1) {
            ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.oom_control'].forEach((f) => read(mem, f));
            read(pids, 'pids.max');
            ['cpu.cfs_period_us', 'cpu.cfs_quota_us'].forEach((f) => read(cpu, f));
          } else {
            ['memory.max', 'memory.swap.max', 'memory.oom.group', 'pids.max', 'cpu.max'].forEach((f) => read(mem, f));
          }
        } finally {
          jail.kill('SIGKILL');
        }
      },
    });
    expect(result.outcome).toBe('signaled');
    if (version === 1) {
      expect(files).toMatchObject({
        'memory.limit_in_bytes': String(256 * MiB),
        'pids.max': '64',
        'cpu.cfs_period_us': '100000',
        'cpu.cfs_quota_us': '50000',
      });
      // memsw exists only with swap accounting; when it does, swap is limited to 0.
      if (files['memory.memsw.limit_in_bytes'] !== undefined) expect(files['memory.memsw.limit_in_bytes']).toBe(String(256 * MiB));
      expect(files['memory.oom_control']).toMatch(/^oom_kill_disable 0$/m);
    } else {
      expect(files).toEqual({ 'memory.max': String(256 * MiB), 'memory.swap.max': '0', 'memory.oom.group': '1', 'pids.max': '64', 'cpu.max': '50000 100000' });
    }
  });

  it("a 2 GiB allocation under a 256 MiB cap ends 'oom' (137), reports the peak, and says so in words", async () => {
    const result = await runFlags(['--chroot', '/', '--memory', '256M'], [probePath(), 'alloc:2048']);
    expect(result.outcome, JSON.stringify({ ...result, stdout: undefined })).toBe('oom');
    expect(result.exitCode).toBe(137);
    expect(result.signal).toBe('SIGKILL');
    expect(result.oomKilled).toBe(true);
    expect(result.pidsLimitHit).toBe(false);
    expect(result.memoryPeakBytes).toBeGreaterThan(200 * MiB);
    expect(result.memoryPeakBytes).toBeLessThanOrEqual(256 * MiB);
    expect(result.cpuTimeMs).toBeGreaterThan(0);
    expect(result.logs.some((l) => l.startsWith('warn killed: memory limit 256 MiB reached'))).toBe(true);
    expect(cgroupsOfSupervisor(process.pid)).toEqual([]);
    console.log(`oom: peak ${result.memoryPeakBytes} bytes, cpu ${result.cpuTimeMs} ms, wall ${Math.round(result.wallTimeMs)} ms`);
  });

  it('a memory limit below what the program needs lets it finish when it fits: 64 MiB of 256 MiB', async () => {
    const { result, probe } = await runProbe(['--chroot', '/', '--memory', '256M'], ['alloc:64']);
    expect(result.outcome).toBe('exited');
    expect(probe.alloc).toMatchObject({ gotMiB: 64, ok: true });
    expect(result.oomKilled).toBe(false);
    expect(result.memoryPeakBytes).toBeGreaterThanOrEqual(64 * MiB);
  });

  it('pids 64: forking 200 children stops at the cap with EAGAIN, pidsLimitHit, and nothing is left', async () => {
    const { result, probe } = await runProbe(['--chroot', '/', '--pids', '64'], ['fork:200']);
    expect(probe.fork.forked).toBeLessThan(64);
    expect(probe.fork.forked).toBeGreaterThan(50);
    expect(probe.fork.errno).toBe('EAGAIN');
    expect(result.pidsLimitHit).toBe(true);
    expect(result.logs.some((l) => /^warn pids limit 64 reached: \d+ forks? refused$/.test(l))).toBe(true);
    expect(await survivorsNamed('probe-fork')).toEqual([]);
  });

  it('a shell fork bomb under pids 64 stays at 64 processes, the host can still fork, and all of it dies', async () => {
    let peak = 0;
    let hostForks = 0;
    const result = await runFlags(['--chroot', '/', '--pids', '64', '-t', '3'], ['/bin/sh', '-c', 'b() { b | b & }; b; sleep 10'], {
      onStart: (jail) => {
        // Sampled often and without blocking the event loop: a bomb under a cap rises and
        // collapses within milliseconds, and a busy machine delays every sample.
        const dir = controllerDir(jail.pid, 'pids', version);
        void (async () => {
          for (let i = 0; i < 600; i++) {
            try {
              peak = Math.max(peak, Number(readCgroupFile(dir, 'pids.current')));
            } catch {
              break; // the jail is over
            }
            await sleep(5);
          }
        })();
        void (async () => {
          for (let i = 0; i < 10; i++) {
            if ((await trueExitCode()) === 0) hostForks++;
            await sleep(100);
          }
        })();
      },
    });
    // The kernel refused forks at the cap (pids.events), so the bomb did reach 64 processes; the
    // sampled peak may miss that moment (a bomb collapses within milliseconds when its forks fail),
    // but it must never see more than the cap.
    expect(result.pidsLimitHit).toBe(true);
    expect(peak).toBeLessThanOrEqual(64);
    expect(hostForks).toBeGreaterThan(0);
    expect(processesInCgroupsOf(process.pid)).toEqual([]);
    expect(cgroupsOfSupervisor(process.pid)).toEqual([]);
    console.log(`fork bomb: peak ${peak} processes in the jail, ${hostForks} host forks meanwhile, outcome ${result.outcome}`);
  });

  it('cpu_ms_per_sec 100: a busy loop gets about 10% of a core (5-20% over 3 s)', async () => {
    const { result, probe } = await runProbe(['--chroot', '/', '--cgroup_cpu_ms_per_sec', '100'], ['spin:3']);
    const share = (probe.spin.userMs + probe.spin.sysMs) / probe.spin.wallMs;
    console.log(`cpu 100 ms/s: ${(share * 100).toFixed(1)}% of a core (cgroup says ${result.cpuTimeMs} ms over ${Math.round(result.wallTimeMs)} ms)`);
    expect(share).toBeGreaterThan(0.05);
    expect(share).toBeLessThan(0.2);
    expect(result.cpuTimeMs! / probe.spin.wallMs).toBeGreaterThan(0.05);
    expect(result.cpuTimeMs! / probe.spin.wallMs).toBeLessThan(0.2);
  });

  it('--cpus 0.25 is 250 ms per second', async () => {
    const { probe } = await runProbe(['--chroot', '/', '--cpus', '0.25'], ['spin:2']);
    const share = (probe.spin.userMs + probe.spin.sysMs) / probe.spin.wallMs;
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.35);
  });

  it('without limits the jail still gets a cgroup: CPU time and (where the memory controller is on) peak memory', async () => {
    const { result, probe } = await runProbe(['--chroot', '/'], ['spin:0.3', 'cgroup']);
    expect(result.cpuTimeMs).toBeGreaterThan(100);
    expect(result.oomKilled).toBe(false);
    expect(result.pidsLimitHit).toBe(false);
    // The jail's own cgroup namespace shows its cgroup as the root.
    expect(probe.cgroup).toMatch(version === 2 ? /^0::\/\n?$/m : /^\d+:memory:\//m);
  });
});
