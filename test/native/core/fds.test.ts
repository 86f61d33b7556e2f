/**
 * File descriptors: launching jails (started, failed, captured, piped) leaves this process with
 * exactly the fds it had, and the jailed program sees only 0, 1, 2 and its --pass_fd ones, however
 * many fds the supervising process holds. Checked from inside with the probe.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import type { ExitInfo, NativeAddon } from '../../../src/native/types';
import type { PlannedJail } from '../../../src/sandbox';
import { silentLogger } from '../../../src/supervisor/log';
import { openStdio, type InputOption, type OutputOption } from '../../../src/supervisor/stdio';
import { supervise } from '../../../src/supervisor/supervise';
import { childPids, hostPlan, launchToExec, openFds, parseProbe, probePath, requireAddon } from '../../helpers/native';

let addon: NativeAddon;
let probe: string;
beforeAll(() => {
  addon = requireAddon();
  probe = probePath();
});

/** One jail; a 'pipe' stream is read to its end, as a caller that owns it would. */
async function run(planned: PlannedJail, io: { stdin?: InputOption; stdout?: OutputOption; stderr?: OutputOption } = {}) {
  const stdio = openStdio(addon, { stdin: io.stdin ?? 'ignore', stdout: io.stdout ?? 'capture', stderr: io.stderr ?? 'capture', maxOutputBytes: 1 << 20 });
  const piped: Buffer[] = [];
  const ended = stdio.stdout ? new Promise((resolve) => stdio.stdout!.on('data', (c: Buffer) => piped.push(c)).on('end', resolve)) : null;
  const result = await supervise(addon, planned, { timeLimit: 30, stdio, log: silentLogger });
  await ended;
  return { ...result, piped: Buffer.concat(piped).toString() };
}

/** This process's fds once sockets closed by the last run have really gone (bounded wait). */
async function settledFds(expected: number[]): Promise<number[]> {
  let now = openFds();
  for (let i = 0; i < 100 && JSON.stringify(now) !== JSON.stringify(expected); i++) {
    await new Promise((r) => setTimeout(r, 10));
    now = openFds();
  }
  return now;
}

/** The fd set once it has stayed the same for 50 ms (a closing socket of the last run is not a baseline). */
async function stableFds(): Promise<number[]> {
  let last = openFds();
  for (let same = 0, i = 0; same < 5 && i < 200; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const now = openFds();
    same = JSON.stringify(now) === JSON.stringify(last) ? same + 1 : 0;
    last = now;
  }
  return last;
}

describe('no fd leaks in the supervising process', () => {
  it('20 launches with captured output, string input and piped output keep the fd set unchanged', async () => {
    const ok = hostPlan(['--chroot', '/', '--', '/bin/sh', '-c', 'cat; echo done; echo e >&2']);
    await run(ok, { stdin: 'warm-up' }); // Node opens some fds lazily on first use
    const before = await stableFds();
    for (let i = 0; i < 20; i++) {
      const r = await run(ok, { stdin: `input ${i}\n`, stdout: i % 2 ? 'capture' : 'pipe' });
      expect(r.report).toMatchObject({ outcome: 'exited', exitCode: 0 });
      expect(i % 2 ? r.stdout!.data.toString() : r.piped).toBe(`input ${i}\ndone\n`);
    }
    expect(await settledFds(before)).toEqual(before);
    expect(childPids()).toEqual([]);
  });

  it('16 concurrent jails: each gets its own output, none sees another\'s fds, and nothing leaks', async () => {
    const before = await stableFds();
    const runs = Array.from({ length: 16 }, (_, i) => run(hostPlan(['--chroot', '/', '--', probe, 'fds', `print:jail-${i}`]), { stdin: `in-${i}` }));
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      expect(r.report).toMatchObject({ outcome: 'exited', exitCode: 0 });
      const out = r.stdout!.data.toString();
      expect(out.split('\n')[0]).toBe(`jail-${i}`);
      expect(parseProbe(out).fds).toEqual([0, 1, 2]);
    });
    expect(await settledFds(before)).toEqual(before);
    expect(childPids()).toEqual([]);
  });

  it('20 failed launches (execve ENOENT) keep the fd set unchanged', async () => {
    const bad = hostPlan(['--chroot', '/', '--', '/nonexistent/prog']);
    await run(bad);
    const before = await stableFds();
    for (let i = 0; i < 20; i++) expect((await run(bad, { stdin: 'x' })).report.outcome).toBe('setup-failed');
    expect(await settledFds(before)).toEqual(before);
    expect(childPids()).toEqual([]);
  });

  it('the raw calls: pipe/close pairs, the pidfd closes once, kill after the end is ESRCH', async () => {
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      const [r, w] = addon.pipe();
      expect(addon.close(w)).toBe(0);
      expect(addon.close(r)).toBe(0);
    }
    const planned = hostPlan(['--chroot', '/', '--', '/bin/true']);
    const res = await launchToExec(addon, planned.plan, { stdio: [-1, -1, -1], passFds: [], execFd: -1, cgroupFd: -1, netGate: [-1, -1] });
    if (!res.ok) throw new Error(`launch failed: ${JSON.stringify(res)}`);
    const info = await new Promise<ExitInfo>((resolve) => addon.watchExit(res.pidfd, res.pid, resolve));
    expect(info).toMatchObject({ kind: 'exited', code: 0, signal: 0, siginfoCode: 1 });
    expect(addon.kill(res.pidfd, 0)).toBe(3); // ESRCH: reaped
    expect(addon.close(res.pidfd)).toBe(0);
    expect(addon.close(res.pidfd)).toBe(9); // EBADF
    expect(openFds()).toEqual(before);
  });
});

describe('inside the jail only 0, 1, 2 and --pass_fd are open', () => {
  const extra: number[] = [];
  beforeAll(() => {
    // Plenty of open fds in the supervising process, none of them CLOEXEC-free by accident.
    for (let i = 0; i < 20; i++) extra.push(fs.openSync('/dev/null', 'r'));
  });
  afterAll(() => extra.forEach((fd) => fs.closeSync(fd)));

  it('default: [0, 1, 2]', async () => {
    const r = await run(hostPlan(['--chroot', '/', '--', probe, 'fds']));
    expect(r.report.exitCode).toBe(0);
    const seen = parseProbe(r.stdout!.data);
    expect(seen.fds).toEqual([0, 1, 2]);
    expect((seen.fdTargets as Record<string, string>)['0']).toBe('/dev/null');
    expect((seen.fdTargets as Record<string, string>)['1']).toMatch(/^pipe:/);
  });

  it("stdin 'ignore' (run()'s default) is /dev/null: cat reads nothing", async () => {
    const r = await run(hostPlan(['--chroot', '/', '--', '/bin/cat']), { stdin: 'ignore' });
    expect(r.report.exitCode).toBe(0);
    expect(r.stdout!.data.toString()).toBe('');
  });

  it('with --pass_fd N: [0, 1, 2, N], N at the same number', async () => {
    const fd = extra[7];
    const r = await run(hostPlan(['--pass_fd', String(fd), '--chroot', '/', '--', probe, 'fds']));
    expect(r.report.exitCode).toBe(0);
    const seen = parseProbe(r.stdout!.data);
    expect(seen.fds).toEqual([0, 1, 2, fd]);
    expect((seen.fdTargets as Record<string, string>)[String(fd)]).toBe('/dev/null');
  });

  it("--silent: 0, 1, 2 are /dev/null whatever the caller's stdio", async () => {
    const r = await run(hostPlan(['--silent', '--chroot', '/', '--', probe, 'fds', 'stderr:hidden']));
    expect(r.report.exitCode).toBe(0);
    expect(r.stdout!.data.toString()).toBe('');
    expect(r.stderr!.data.toString()).toBe('');
  });
});
