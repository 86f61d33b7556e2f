/**
 * RERUN (-Mr, rerun()): the command runs again in a fresh jail each time, counted in a
 * bind-mounted directory; SIGTERM stops it with nothing left; a jail that cannot be built ends
 * the loop. daemon (-d): `jail` returns at once, the jail runs detached with its log in a file.
 * Every jailed command carries a marker in its argv; what a test leaves is killed after it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { rerun, type RunResult } from '../../../src/index';
import { cli, cliFixture, parseFlags, SCRATCH, waitFor } from '../core/helpers';
import { killWith, marker, processesWith, survivorsWith } from './helpers';

const markers: string[] = [];
function mark(name: string): string {
  const m = marker(name);
  markers.push(m);
  return m;
}

/** Lines in a file, 0 when it does not exist yet. */
const lines = (file: string): number => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

describeAsRoot('RERUN mode (-Mr)', () => {
  const tmp = cliFixture();
  afterEach(() => {
    for (const m of markers.splice(0)) killWith(m);
  });

  it('runs the command again each time it ends, in a fresh jail; SIGTERM kills the current one and exits 143', async () => {
    const m = mark('rerun');
    const dir = fs.mkdtempSync(path.join(tmp().dir, 'rerun-'));
    const reportFile = path.join(dir, 'reports.jsonl');
    const count = path.join(dir, 'count');
    let child!: ChildProcess;
    const done = cli(
      ['-Mr', '--chroot', '/', '-B', `${dir}:${SCRATCH}`, '-t', '30', '--report-file', reportFile, '--', '/bin/sh', '-c', `readlink /proc/self/ns/pid >> ${SCRATCH}/count; sleep 0.1`, m],
      { onSpawn: (c) => (child = c), timeoutMs: 90_000 },
    );
    await waitFor(() => lines(count) >= 3, 30_000, 'three runs');
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toContain('received SIGTERM: killing the jail; no more runs');
    const runs = fs.readFileSync(count, 'utf8').split('\n').filter(Boolean);
    expect(new Set(runs).size, 'each run has its own pid namespace').toBe(runs.length);
    // One report line per run that ended; the one SIGTERM stopped, if it had started, says so.
    const reports = fs.readFileSync(reportFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RunResult);
    expect(reports.length).toBeGreaterThanOrEqual(runs.length - 1);
    expect(reports.slice(0, 2).map((x) => x.outcome)).toEqual(['exited', 'exited']);
    expect(await survivorsWith(m)).toEqual([]);
  });

  it('a jail that cannot be built ends the loop with 255, as nsjail', async () => {
    const r = await cli(['-Mr', '--chroot', '/', '-x', '/nonexistent/program', '--report', 'json', '--', 'x'], { timeoutMs: 60_000 });
    expect(r.code).toBe(255);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l).outcome)).toEqual(['setup-failed']);
  });

  it('rerun(): maxRuns runs with captured output each; aborting stops the loop and kills the current jail', async () => {
    const m = mark('librerun');
    const { config } = parseFlags(['--chroot', '/', '-t', '30']);
    const got: Array<[number, string | Buffer | undefined]> = [];
    const r = await rerun({ config, command: ['/bin/sh', '-c', 'echo run', m], maxRuns: 3, onReport: (x, n) => got.push([n, x.stdout]) });
    expect(r).toMatchObject({ runs: 3, stoppedBy: 'max-runs', last: { outcome: 'exited', stdout: 'run\n' } });
    expect(got).toEqual([[1, 'run\n'], [2, 'run\n'], [3, 'run\n']]);

    const abort = new AbortController();
    const stopped = await rerun({
      config,
      command: ['/bin/sh', '-c', 'sleep 30', m],
      signal: abort.signal,
      onStart: () => abort.abort(),
    });
    expect(stopped).toMatchObject({ runs: 1, stoppedBy: 'signal', last: { outcome: 'signaled', signal: 'SIGKILL' } });
    expect(await survivorsWith(m)).toEqual([]);
  });
});

describeAsRoot('daemon (-d)', () => {
  const tmp = cliFixture();
  afterEach(() => {
    for (const m of markers.splice(0)) killWith(m);
  });

  it('returns 0 at once; the jail runs detached, in its own session, logging to --log; SIGTERM to it leaves nothing', async () => {
    const m = mark('daemon');
    const log = path.join(tmp().dir, 'daemon.log');
    const r = await cli(['-d', '--log', log, '--chroot', '/', '-t', '60', '--', '/bin/sh', '-c', 'sleep 60', m], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect([r.stdout, r.stderr]).toEqual(['', '']);
    expect(r.wallMs).toBeLessThan(15_000);

    // The supervisor (node, with the marker among its arguments) and the jailed shell.
    await waitFor(() => fs.existsSync(log) && /executing '\/bin\/sh'/.test(fs.readFileSync(log, 'utf8')), 30_000, 'the jail to start');
    const text = fs.readFileSync(log, 'utf8');
    const supervisor = Number(/running in the background as pid (\d+)/.exec(text)?.[1]);
    expect(processesWith(m)).toContain(supervisor);
    expect(processesWith(m).length).toBeGreaterThanOrEqual(2);
    const stat = fs.readFileSync(`/proc/${supervisor}/stat`, 'utf8');
    // After "(comm) ": state, ppid, pgrp, session.
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]), 'a session of its own').toBe(supervisor);
    for (const fd of [0, 1, 2]) expect(fs.readlinkSync(`/proc/${supervisor}/fd/${fd}`)).toBe('/dev/null');

    process.kill(supervisor, 'SIGTERM');
    expect(await survivorsWith(m, 10_000)).toEqual([]);
    expect(fs.readFileSync(log, 'utf8')).toContain('received SIGTERM: killing the jail');
  });

  it('a bad command fails in the foreground, before detaching', async () => {
    const log = path.join(tmp().dir, 'bad.log');
    const r = await cli(['-d', '--log', log, '--chroot', '/', '--', 'no-such-program-anywhere'], { timeoutMs: 30_000 });
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/no-such-program-anywhere/);
  });
});
