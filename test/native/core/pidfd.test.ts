/**
 * pidfdOpen (native/cgroup.cc), which the cgroup kill signals through so that a recycled pid is
 * never hit: a pidfd names its process only, the fd is close-on-exec, a process that is gone gives
 * -ESRCH, and anything but a pid is refused with the value and what is accepted.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../../src/native/types';
import { requireAddon } from '../../helpers/native';

const ESRCH = 3;
let addon: NativeAddon;
beforeAll(() => {
  addon = requireAddon();
});

describe('pidfdOpen', () => {
  it('a pidfd signals its process; once that process is reaped, the pid gives -ESRCH', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const fd = addon.pidfdOpen(child.pid!);
    expect(fd).toBeGreaterThanOrEqual(0);
    try {
      expect(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')).toMatch(/^Pid:\s+\d+$/m);
      expect(Number(/^flags:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]) & 0o2000000).not.toBe(0); // O_CLOEXEC
      const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      expect(addon.kill(fd, 9)).toBe(0);
      expect(await exited).toBe('SIGKILL');
      // The process is gone: the pidfd signals nothing (whoever gets the number next).
      expect(addon.kill(fd, 0)).toBe(ESRCH);
    } finally {
      addon.close(fd);
    }
    expect(addon.pidfdOpen(child.pid!)).toBe(-ESRCH);
  });

  it('refuses what is not a pid, saying what it got and what it takes', () => {
    const call = addon.pidfdOpen as (...a: unknown[]) => unknown;
    expect(() => call()).toThrow(new TypeError('pidfdOpen(pid: number)'));
    expect(() => call('1')).toThrow(new TypeError('pidfdOpen(pid: number)'));
    expect(() => call(1, 2)).toThrow(new TypeError('pidfdOpen(pid: number)'));
    for (const bad of [0, -1, 1.5, 2 ** 30, NaN, Infinity]) {
      expect(() => call(bad)).toThrow(new RangeError(`pidfdOpen: pid must be an integer from 1 to 1073741823, got ${bad}`));
    }
  });
});
