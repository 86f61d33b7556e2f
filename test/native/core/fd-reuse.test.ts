/**
 * A caller fd closed around launch() must never be confused with the launch's own pipes: a pass
 * fd whose number the report pipe took would survive execve, and the launch would never see EOF
 * (nor the time limit be armed). Two guards, both checked here against the real addon:
 * - launch() validates that every stdio and pass fd is open (a closed one is refused, named);
 * - it clones before it returns, on the calling thread, so fds closed right after it returns
 *   were already duplicated into the child: the setup completes and the program runs. (The
 *   re-check right before clone, CheckChildFds in native/prepared.h, covers another thread of
 *   the process closing an fd in between.)
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExitInfo, NativeAddon, SetupResult } from '../../../src/native/types';
import { childPids, hostPlan, requireAddon } from '../../helpers/native';

let addon: NativeAddon;
const held: number[] = [];

beforeAll(() => {
  addon = requireAddon();
});

afterAll(() => {
  for (const fd of held.splice(0)) fs.closeSync(fd);
});

describe('fds closed around launch()', () => {
  it('a pass fd that is already closed is refused before anything is cloned', () => {
    const fd = fs.openSync('/dev/null', 'r');
    fs.closeSync(fd);
    const planned = hostPlan(['--chroot', '/', '--', '/bin/true']);
    expect(() => addon.launch(planned.plan, { stdio: [-1, -1, -1], passFds: [fd], execFd: -1, cgroupFd: -1, netGate: [-1, -1] }, () => {}, undefined)).toThrow(
      new RegExp(`fd ${fd} is not open`),
    );
    expect(childPids()).toEqual([]);
  });

  it('pass fds closed right after launch() returns: the launch still completes, the program runs', async () => {
    const fds = Array.from({ length: 8 }, () => fs.openSync('/dev/null', 'r'));
    const planned = hostPlan(['--chroot', '/', '--', '/bin/true']);
    let onSetup!: (r: SetupResult) => void;
    const setup = new Promise<SetupResult>((resolve) => (onSetup = resolve));
    const started = addon.launch(planned.plan, { stdio: [-1, -1, -1], passFds: fds, execFd: -1, cgroupFd: -1, netGate: [-1, -1] }, onSetup, undefined);
    for (const fd of fds) fs.closeSync(fd);
    // New fds now take the freed numbers, as the launch's pipes would have in the old design.
    for (let i = 0; i < 8; i++) held.push(fs.openSync('/dev/null', 'r'));
    if (!started.ok) throw new Error(`launch failed: ${JSON.stringify(started)}`);
    const exit = new Promise<ExitInfo>((resolve) => addon.watchExit(started.pidfd, started.pid, resolve));
    expect(await setup).toEqual({ ok: true });
    expect(await exit).toMatchObject({ kind: 'exited', code: 0 });
    addon.close(started.pidfd);
    expect(childPids()).toEqual([]);
  }, 20_000);
});
