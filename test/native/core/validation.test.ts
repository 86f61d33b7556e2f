/**
 * The addon's structural check of a plan (native/prepare.cc): every malformed shape is refused
 * with a TypeError naming the field, synchronously, before anything is cloned. The positive
 * control launches the unmodified plan, which leaves a marker file on the host; no malformed
 * variant may leave it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LaunchResources, NativeAddon } from '../../../src/native/types';
import type { JailPlan } from '../../../src/sandbox/plan';
import { childPids, hostPlan, requireAddon } from '../../helpers/native';

let addon: NativeAddon;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jail-native-validation-'));
fs.chmodSync(dir, 0o777);
const marker = path.join(dir, 'launched');

let base: JailPlan;
const resources = (): LaunchResources => ({ stdio: [-1, -1, -1], passFds: [], execFd: -1, cgroupFd: -1 });

beforeAll(() => {
  addon = requireAddon();
  // --rw so that the jailed program's write reaches the host's marker file.
  base = hostPlan(['--chroot', '/', '--rw', '--', '/bin/sh', '-c', `echo x > ${marker}`]).plan;
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Launches, waits for the end, closes the pidfd. */
async function launchAndWait(plan: unknown, res: LaunchResources = resources()) {
  const r = await addon.launch(plan as JailPlan, res);
  if (!r.ok) return { r, info: null };
  const info = await new Promise<Parameters<Parameters<NativeAddon['watchExit']>[2]>[0]>((resolve) => addon.watchExit(r.pidfd, r.pid, resolve));
  addon.close(r.pidfd);
  return { r, info };
}

const clone = (): Record<string, any> => structuredClone(base) as Record<string, any>;

/** The variant must throw a TypeError right away (no Promise, no clone) whose message matches. */
function refused(plan: unknown, message: RegExp | string, res: LaunchResources = resources()): void {
  let result: unknown;
  let error: unknown;
  try {
    result = addon.launch(plan as JailPlan, res);
  } catch (e) {
    error = e;
  }
  expect(result).toBeUndefined();
  expect(error).toBeInstanceOf(TypeError);
  if (typeof message === 'string') expect((error as Error).message).toBe(message);
  else expect((error as Error).message).toMatch(message);
}

describe('plan validation (no root needed)', () => {
  it('positive control: the unmodified plan runs and leaves the marker', async () => {
    const { r, info } = await launchAndWait(base);
    expect(r).toMatchObject({ ok: true });
    expect(info).toMatchObject({ kind: 'exited', code: 0 });
    expect(fs.readFileSync(marker, 'utf8')).toBe('x\n');
    fs.rmSync(marker);
  });

  it('refuses unknown keys at every level', () => {
    refused({ ...clone(), extra: 1 }, 'invalid plan: plan.extra: unknown field');
    const a = clone();
    a.idmap.surprise = '';
    refused(a, 'invalid plan: plan.idmap.surprise: unknown field');
    const b = clone();
    b.mounts[0].bogus = true;
    refused(b, 'invalid plan: plan.mounts[0].bogus: unknown field');
    const c = clone();
    c.caps.all = true;
    refused(c, 'invalid plan: plan.caps.all: unknown field');
    const d = clone();
    d.exec.cwd = '/';
    refused(d, 'invalid plan: plan.exec.cwd: unknown field');
    refused(base, 'invalid plan: resources.more: unknown field', { ...resources(), more: 1 } as LaunchResources);
  });

  it('refuses wrong types, naming the field', () => {
    refused({ ...clone(), cloneFlags: String(base.cloneFlags) }, 'invalid plan: plan.cloneFlags: expected a number');
    refused({ ...clone(), noNewPrivs: 1 }, 'invalid plan: plan.noNewPrivs: expected a boolean');
    refused({ ...clone(), hostname: 5 }, 'invalid plan: plan.hostname: expected a string');
    refused({ ...clone(), mounts: {} }, 'invalid plan: plan.mounts: expected an array');
    refused({ ...clone(), caps: [] }, 'invalid plan: plan.caps: expected an object');
    refused({ ...clone(), uid: -1 }, /^invalid plan: plan\.uid: expected an integer in \[0, 4294967294\]$/);
    refused({ ...clone(), gid: 1.5 }, /^invalid plan: plan\.gid: expected an integer/);
    refused({ ...clone(), niceLevel: 20 }, /^invalid plan: plan\.niceLevel: expected an integer in \[-20, 19\]$/);
    refused({ ...clone(), deathSignal: 0 }, /^invalid plan: plan\.deathSignal: expected an integer in \[1, 64\]$/);
    refused({ ...clone(), devNullFds: [3] }, /^invalid plan: plan\.devNullFds\[0\]: expected an integer in \[0, 2\]$/);
    const e = clone();
    e.exec.argv = ['/bin/sh', 7];
    refused(e, 'invalid plan: plan.exec.argv[1]: expected a string');
    const m = clone();
    m.mounts[0].op = 'bindmount';
    refused(m, 'invalid plan: plan.mounts[0].op: unknown mount op');
    const g = clone();
    g.idmap.setgroups = 'maybe';
    refused(g, 'invalid plan: plan.idmap.setgroups: expected "", "allow" or "deny"');
    const r = clone();
    r.rlimits[0].cur = '12abc';
    refused(r, 'invalid plan: plan.rlimits[0].cur: expected a decimal string or "infinity"');
    r.rlimits[0].cur = '18446744073709551616';
    refused(r, 'invalid plan: plan.rlimits[0].cur: out of range');
  });

  it('refuses a NUL byte in any string', () => {
    const cases: Array<[(p: Record<string, any>) => void, string]> = [
      [(p) => (p.exec.path = '/bin/s\0h'), 'plan.exec.path'],
      [(p) => (p.exec.argv[0] = 'sh\0'), 'plan.exec.argv[0]'],
      [(p) => p.exec.envp.push('A=\0B'), `plan.exec.envp[${base.exec.envp.length}]`],
      [(p) => (p.hostname = 'a\0b'), 'plan.hostname'],
      [(p) => (p.cwd = '/\0tmp'), 'plan.cwd'],
      [(p) => (p.mounts[1].target = p.mounts[1].target + '\0x'), 'plan.mounts[1].target'],
      [(p) => (p.idmap.uidMap = '0 0 1\0'), 'plan.idmap.uidMap'],
    ];
    for (const [mutate, field] of cases) {
      const p = clone();
      mutate(p);
      refused(p, `invalid plan: ${field}: contains a NUL byte`);
    }
  });

  it('refuses another plan version', () => {
    refused({ ...clone(), version: 2 }, 'invalid plan: plan.version: this addon applies plan version 1 only');
    refused({ ...clone(), version: '1' }, /^invalid plan: plan\.version: expected a number/);
  });

  it('refuses a seccomp program longer than BPF_MAXINSNS, or empty, or malformed', () => {
    const ret = [0x06, 0, 0, 0x7fff0000] as [number, number, number, number];
    refused({ ...clone(), seccomp: { insns: Array(4097).fill(ret), flags: 0 } }, 'invalid plan: plan.seccomp.insns: more than 4096 elements');
    refused({ ...clone(), seccomp: { insns: [], flags: 0 } }, 'invalid plan: plan.seccomp.insns: empty program');
    refused({ ...clone(), seccomp: { insns: [[6, 0, 0]], flags: 0 } }, 'invalid plan: plan.seccomp.insns[0]: expected [code, jt, jf, k]');
    refused({ ...clone(), seccomp: { insns: [[6, 256, 0, 0]], flags: 0 } }, /^invalid plan: plan\.seccomp\.insns\[0\]\[1\]: expected an integer in \[0, 255\]$/);
    refused({ ...clone(), seccomp: { insns: [ret], flags: 0, log: true } }, 'invalid plan: plan.seccomp.log: unknown field');
  });

  it('refuses clone flags other than CLONE_NEW*', () => {
    for (const flag of [0x100 /* CLONE_VM */, 0x200 /* CLONE_FS */, 0x10000 /* CLONE_THREAD */, 0x80000000 /* CLONE_IO */]) {
      refused({ ...clone(), cloneFlags: (base.cloneFlags | flag) >>> 0 }, 'invalid plan: plan.cloneFlags: only CLONE_NEW* flags are accepted');
    }
  });

  it('refuses an rlimit whose cur exceeds max', () => {
    const p = clone();
    p.rlimits[0] = { resource: 7, cur: '64', max: '32' };
    refused(p, 'invalid plan: plan.rlimits[0]: cur exceeds max');
  });

  it('refuses missing fields', () => {
    for (const key of ['cwd', 'exec', 'idmap', 'mounts', 'rlimits', 'seccomp', 'version']) {
      const p = clone();
      delete p[key];
      refused(p, `invalid plan: plan.${key}: missing`);
    }
    const m = clone();
    delete m.mounts[0].optional;
    refused(m, 'invalid plan: plan.mounts[0].optional: missing');
    const r = resources() as Partial<LaunchResources>;
    delete r.stdio;
    refused(base, 'invalid plan: resources.stdio: missing', r as LaunchResources);
    const a = clone();
    a.exec.argv = [];
    refused(a, 'invalid plan: plan.exec.argv: must hold at least argv[0]');
  });

  it('refuses bad resources: fds that are not open, pass fds below 3, cloneInto without a cgroup fd', () => {
    refused(base, /^invalid plan: resources\.passFds\[0\]: fd 987654 is not open$/, { ...resources(), passFds: [987654] });
    refused(base, /^invalid plan: resources\.passFds\[0\]: expected an integer in \[3, /, { ...resources(), passFds: [1] });
    refused(base, /^invalid plan: resources\.stdio: expected 3 fds$/, { ...resources(), stdio: [0, 1] as never });
    refused(
      { ...clone(), cgroup: { version: 2, dirs: [], setup: [], attach: [], cloneInto: '/sys/fs/cgroup/x' } },
      'invalid plan: resources.cgroupFd: plan.cgroup.cloneInto needs an open directory fd',
    );
  });

  it('checks the part of plan.cgroup it applies (attach, cloneInto), and no key it does not know', () => {
    const cgroup = { version: 1, dirs: [], setup: [], attach: [{ path: '/sys/fs/cgroup/memory/x/cgroup.procs', content: '{pid}' }], cloneInto: null };
    refused({ ...clone(), cgroup: { ...cgroup, attach: [{ path: 7, content: '{pid}' }] } }, /^invalid plan: plan\.cgroup\.attach\[0\]\.path: /);
    refused({ ...clone(), cgroup: { ...cgroup, attach: [{ ...cgroup.attach[0], mode: 1 }] } }, 'invalid plan: plan.cgroup.attach[0].mode: unknown field');
    refused({ ...clone(), cgroup: { ...cgroup, cloneInto: 3 } }, /^invalid plan: plan\.cgroup\.cloneInto: /);
    refused({ ...clone(), cgroup: { ...cgroup, attch: [] } }, 'invalid plan: plan.cgroup.attch: unknown field');
  });

  it('refuses non-object arguments', () => {
    expect(() => addon.launch(null as never, resources())).toThrow(TypeError);
    expect(() => (addon.launch as (...a: unknown[]) => unknown)(base)).toThrow(/launch\(plan: object, resources: object\)/);
  });

  it('nothing was launched by any refused plan', () => {
    expect(fs.existsSync(marker)).toBe(false);
    expect(childPids()).toEqual([]);
  });
});
