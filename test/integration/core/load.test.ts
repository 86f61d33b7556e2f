/**
 * Many jails from one process: 200 sequential and 50 concurrent run() calls of /bin/true all
 * succeed, and afterwards this process has no more children, open fds or mounts than before.
 */
import { beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { run } from '../../../src/index';
import { childrenOfThisProcess, mountCount, openFdCount, sleep } from './helpers';

/** The library form of `--chroot /` (a read-only bind of / at /, plus a fresh /proc). */
const CHROOT_CONFIG = { mount: [{ src: '/', dst: '/', is_bind: true }], mount_proc: true };

interface Snapshot {
  fds: number;
  mounts: number;
  children: number;
}

const snapshot = (): Snapshot => ({ fds: openFdCount(), mounts: mountCount(), children: childrenOfThisProcess().length });

/** Waits (bounded) for the counts to come back to `before`; returns the last snapshot. */
async function settle(before: Snapshot, timeoutMs = 3000): Promise<Snapshot> {
  const end = Date.now() + timeoutMs;
  let now = snapshot();
  while (Date.now() < end && (now.fds > before.fds || now.mounts !== before.mounts || now.children > before.children)) {
    await sleep(50);
    now = snapshot();
  }
  return now;
}

/** No more fds or children than before (fewer is fine: the test runner may close its own), the same mounts. */
function expectNoLeaks(after: Snapshot, before: Snapshot): void {
  expect(after.fds, 'open fds').toBeLessThanOrEqual(before.fds);
  expect(after.children, 'child processes').toBeLessThanOrEqual(before.children);
  expect(after.mounts, 'mounts').toBe(before.mounts);
}

describeAsRoot('load: many run() calls in one process', () => {
  let before: Snapshot;

  beforeAll(async () => {
    // Warm up: the addon, the scratch directory and the stdio machinery are set up once.
    const r = await run({ command: ['/bin/true'], config: CHROOT_CONFIG });
    expect(r.exitCode).toBe(0);
    await sleep(100);
    before = snapshot();
  });

  it('200 sequential run() calls of /bin/true all succeed', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await run({ command: ['/bin/true'], config: CHROOT_CONFIG });
      if (r.outcome !== 'exited' || r.exitCode !== 0) throw new Error(`run ${i}: ${JSON.stringify(r)}`);
      codes.push(r.exitCode);
    }
    expect(codes).toHaveLength(200);
    expectNoLeaks(await settle(before), before);
  });

  it('50 concurrent run() calls all succeed, each with its own output', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => run({ command: ['/bin/echo', `jail-${i}`], config: CHROOT_CONFIG })),
    );
    results.forEach((r, i) => {
      expect(r.outcome, `run ${i}`).toBe('exited');
      expect(r.exitCode, `run ${i}`).toBe(0);
      expect(r.stdout, `run ${i}`).toBe(`jail-${i}\n`);
    });
    expectNoLeaks(await settle(before), before);
  });

  it('failures and kills leak nothing either', async () => {
    const mixed = await Promise.all([
      ...Array.from({ length: 10 }, () => run({ command: ['/nonexistent/program'], config: CHROOT_CONFIG })),
      ...Array.from({ length: 10 }, () => run({ command: ['/bin/sleep', '30'], config: { ...CHROOT_CONFIG, time_limit: 1 } })),
      ...Array.from({ length: 10 }, () => run({ command: ['/bin/sh', '-c', 'exit 3'], config: CHROOT_CONFIG })),
    ]);
    expect(mixed.slice(0, 10).every((r) => r.outcome === 'setup-failed')).toBe(true);
    expect(mixed.slice(10, 20).every((r) => r.outcome === 'timeout')).toBe(true);
    expect(mixed.slice(20).every((r) => r.exitCode === 3)).toBe(true);
    expectNoLeaks(await settle(before), before);
  });
});
