/**
 * An fd the caller closes after launch() returned, but before the worker thread clones, must not
 * be used: the launch's own pipes may have taken its number, and a pass fd that is really the
 * report pipe's write end would survive execve, so the launch would never see EOF. The launcher
 * re-checks every caller fd right before clone (CheckChildFds, native/prepared.h) and refuses
 * with stage 'fds', naming the fd.
 *
 * To close the fds in that window deterministically, every libuv pool thread is first parked
 * in an open() of a FIFO that has no writer yet; the launch then waits in the pool's queue until
 * this test opens the writer end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../../src/native/types';
import { describeSetupFailure } from '../../../src/supervisor/setup-error';
import { childPids, hostPlan, requireAddon } from '../../helpers/native';

const EBADF = 9;
const POOL = Number(process.env.UV_THREADPOOL_SIZE) || 4;
/** Free numbers for the parked opens, the writer, the launch's two pipes, with room to spare. */
const WINDOW = POOL + 12;
const MAX_OPENS = 4096;

let addon: NativeAddon;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jail-native-fd-reuse-'));
const held: number[] = [];

beforeAll(() => {
  addon = requireAddon();
});

afterAll(() => {
  for (const fd of held) fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** WINDOW consecutive fd numbers n.. such that every number below n is in use (open() takes the lowest free). */
function consecutiveFds(): number[] {
  for (let i = 0; i < MAX_OPENS; i++) {
    held.push(fs.openSync('/dev/null', 'r'));
    const tail = held.slice(-WINDOW);
    if (tail.length === WINDOW && tail.every((fd, k) => k === 0 || fd === tail[k - 1] + 1)) {
      held.splice(-WINDOW);
      return tail;
    }
  }
  throw new Error(`no ${WINDOW} consecutive fds after ${MAX_OPENS} opens`);
}

describe('an fd closed between launch() and the clone', () => {
  it('is refused before clone with stage fds and the fd number, and nothing runs', async () => {
    const fifo = path.join(dir, 'park');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    // Without the re-check, the program would hold the report pipe and the launch would wait for it.
    const planned = hostPlan(['--chroot', '/', '--', '/bin/sleep', '5']);
    const window = consecutiveFds();
    const parked = Array.from({ length: POOL }, () => new Promise<number>((resolve, reject) => fs.open(fifo, 'r', (e, fd) => (e ? reject(e) : resolve(fd)))));
    const launched = addon.launch(planned.plan, { stdio: [-1, -1, -1], passFds: window, execFd: -1, cgroupFd: -1 });
    for (const fd of window) fs.closeSync(fd);
    const writer = fs.openSync(fifo, 'w');
    const readers = await Promise.all(parked);
    const started = Date.now();
    const r = await launched;
    for (const fd of [writer, ...readers]) fs.closeSync(fd);

    expect(r).toMatchObject({ ok: false, stage: 'fds', errno: EBADF });
    const failure = r as { stage: string; opIndex: number; errno: number };
    expect(window).toContain(failure.opIndex);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(describeSetupFailure(planned, failure).message).toMatch(
      new RegExp(`^keeping fd ${failure.opIndex} \\(a stdio or --pass_fd fd\\) for the jail: EBADF .*\\n  hint: the fd was closed before the launch cloned the jail`),
    );
    expect(childPids()).toEqual([]);
  }, 20_000);
});
