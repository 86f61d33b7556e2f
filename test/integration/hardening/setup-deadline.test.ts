/**
 * The time limit covers a jail's setup, and a setup that hangs holds no thread. The hang is real:
 * hang-syscall.c runs the supervising Node program under a seccomp filter whose user-notification
 * listener never answers pivot_root, so each jail's child blocks in the kernel in the middle of
 * its setup, as it would on a bind source on a dead FUSE or NFS mount. With six such jails at
 * once (more than libuv's four pool threads), every one must end as a timeout at its limit, the
 * supervisor's file reads (which use the pool) and timers must keep going meanwhile, and no
 * process may be left.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { hostProcesses, tempDir } from '../core/helpers';
import { compileC, runNodeScript, scriptJson } from './helpers';

const JAILS = 6;
const LIMIT_S = 2;

const SCRIPT = `
const fs = require('node:fs');
(async () => {
  const start = Date.now();
  let last = start, maxGap = 0;
  const timer = setInterval(() => { const now = Date.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 5);
  let settled = false;
  const runs = Promise.all(Array.from({ length: ${JAILS} }, () =>
    jail.run({ config: { chroot: '/', time_limit: ${LIMIT_S} }, command: ['/bin/true'] })));
  runs.then(() => (settled = true), () => (settled = true));
  const reads = [];
  for (let i = 0; i < 400 && !settled; i++) {
    const t = Date.now();
    await fs.promises.readFile('/proc/self/stat');
    reads.push(Date.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  const reports = await runs;
  clearInterval(timer);
  console.log(JSON.stringify({
    outcomes: reports.map((r) => r.outcome),
    wallMs: reports.map((r) => Math.round(r.wallTimeMs)),
    reads: reads.length,
    maxReadMs: Math.max(...reads),
    maxGapMs: maxGap,
    totalMs: Date.now() - start,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describeIf('a setup that hangs in the kernel', isRoot ? null : 'needs root (a seccomp filter without no_new_privs)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let hang: string;
  beforeAll(() => {
    tmp = tempDir('jail-it-hang-');
    hang = compileC('hang-syscall', tmp.dir);
  });
  afterAll(() => tmp?.remove());

  it(`${JAILS} jails stuck in pivot_root: each is killed at its ${LIMIT_S} s limit, the event loop and the pool stay free`, async () => {
    const r = await runNodeScript(SCRIPT, { wrapper: [hang], timeoutMs: 60_000 });
    const out = scriptJson(r);
    console.log(`hung setups: ${JSON.stringify(out)}`);
    expect(out.outcomes).toEqual(Array(JAILS).fill('timeout'));
    for (const ms of out.wallMs as number[]) {
      expect(ms).toBeGreaterThanOrEqual(LIMIT_S * 1000);
      expect(ms).toBeLessThan(LIMIT_S * 1000 + 3000);
    }
    // Reads kept completing while every jail hung (the pool was never taken by a launch).
    expect(out.reads as number).toBeGreaterThan(20);
    expect(out.maxReadMs as number).toBeLessThan(1000);
    expect(out.maxGapMs as number).toBeLessThan(1000);
    expect(r.code).toBe(0);
    // Nothing of those jails remains: the script and every child of it are gone.
    expect(hostProcesses().filter((p) => p.comm === path.basename(hang))).toEqual([]);
  });
});
