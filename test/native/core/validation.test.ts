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
import { childPids, hostPlan, launchToExec, requireAddon } from '../../helpers/native';

let addon: NativeAddon;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jail-native-validation-'));
fs.chmodSync(dir, 0o777);
const marker = path.join(dir, 'launched');

let base: JailPlan;
const resources = (): LaunchResources => ({ stdio: [-1, -1, -1], passFds: [], execFd: -1, cgroupFd: -1, netGate: [-1, -1] });

beforeAll(() => {
  addon = requireAddon();
  // --rw so that the jailed program's write reaches the host's marker file.
  base = hostPlan(['--chroot', '/', '--rw', '--', '/bin/sh', '-c', `echo x > ${marker}`]).plan;
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Launches, waits for the end, closes the pidfd. */
async function launchAndWait(plan: unknown, res: LaunchResources = resources()) {
  const r = await launchToExec(addon, plan as JailPlan, res);
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
    result = addon.launch(plan as JailPlan, res, () => {}, undefined);
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
    refused({ ...clone(), uid: -1 }, /^invalid plan: plan\.uid: expected an integer in \[0, 4294967294\], got -1$/);
    refused({ ...clone(), gid: 1.5 }, /^invalid plan: plan\.gid: expected an integer/);
    refused({ ...clone(), niceLevel: 20 }, /^invalid plan: plan\.niceLevel: expected an integer in \[-20, 19\], got 20$/);
    refused({ ...clone(), deathSignal: 0 }, /^invalid plan: plan\.deathSignal: expected an integer in \[1, 64\], got 0$/);
    refused({ ...clone(), devNullFds: [3] }, /^invalid plan: plan\.devNullFds\[0\]: expected an integer in \[0, 2\], got 3$/);
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
    refused({ ...clone(), version: 2 }, 'invalid plan: plan.version: this addon applies plan version 5 only');
    refused({ ...clone(), version: '3' }, /^invalid plan: plan\.version: expected a number/);
  });

  it('refuses a seccomp program longer than BPF_MAXINSNS, or empty, or malformed', () => {
    const ret = [0x06, 0, 0, 0x7fff0000] as [number, number, number, number];
    refused({ ...clone(), seccomp: { insns: Array(4097).fill(ret), flags: 0, listener: [] } }, 'invalid plan: plan.seccomp.insns: more than 4096 elements');
    // The listener filter gets the handshake's 24-instruction prologue in front of it.
    refused({ ...clone(), seccomp: { insns: [], flags: 0, listener: Array(4073).fill(ret) } }, 'invalid plan: plan.seccomp.listener: more than 4072 elements');
    refused({ ...clone(), seccomp: { insns: [], flags: 0, listener: [] } }, 'invalid plan: plan.seccomp: empty program (insns and listener)');
    refused({ ...clone(), seccomp: { insns: [ret], flags: 0 } } as never, 'invalid plan: plan.seccomp.listener: missing');
    refused({ ...clone(), seccomp: { insns: [[6, 0, 0]], flags: 0, listener: [] } }, 'invalid plan: plan.seccomp.insns[0]: expected [code, jt, jf, k]');
    refused({ ...clone(), seccomp: { insns: [[6, 256, 0, 0]], flags: 0, listener: [] } }, /^invalid plan: plan\.seccomp\.insns\[0\]\[1\]: expected an integer in \[0, 255\], got 256$/);
    refused({ ...clone(), seccomp: { insns: [ret], flags: 0, listener: [], log: true } as never }, 'invalid plan: plan.seccomp.log: unknown field');
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

  it('a mount op belongs to an entry (ref >= 0) or to jail itself (ref null), nothing else', () => {
    const p = clone();
    p.mounts[0].ref = -1;
    refused(p, 'invalid plan: plan.mounts[0].ref: expected an integer in [0, 1048576], got -1');
    p.mounts[0].ref = '0';
    refused(p, 'invalid plan: plan.mounts[0].ref: expected a number');
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
    refused(base, /^invalid plan: resources\.passFds\[0\]: fd 987654 is not open; pass an fd that stays open until the launch returns$/, { ...resources(), passFds: [987654] });
    refused(base, /^invalid plan: resources\.passFds\[0\]: expected an integer in \[3, /, { ...resources(), passFds: [1] });
    refused(base, /^invalid plan: resources\.stdio: expected 3 fds$/, { ...resources(), stdio: [0, 1] as never });
    refused(
      { ...clone(), cgroup: { version: 2, dirs: [], setup: [], attach: [], cloneInto: '/sys/fs/cgroup/x' } },
      'invalid plan: resources.cgroupFd: plan.cgroup.cloneInto needs an open directory fd',
    );
  });

  it('refuses NaN, ±Infinity, fractions, values past 2^53 and 2^63, and negatives where unsigned, before any cast', () => {
    // Each of these reaches a double -> integer conversion in prepare.cc; converting any of them
    // unchecked would be undefined behaviour (or a silent wrap).
    const bad = [NaN, Infinity, -Infinity, 0.5, -0.5, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e300, -(2 ** 63), -1e300, Number.MIN_VALUE];
    const fields: Array<[string, (p: Record<string, any>, v: number) => void, string]> = [
      ['plan.uid', (p, v) => (p.uid = v), '[0, 4294967294]'],
      ['plan.cloneFlags', (p, v) => (p.cloneFlags = v), '[0, 4294967295]'],
      ['plan.niceLevel', (p, v) => (p.niceLevel = v), '[-20, 19]'],
      ['plan.oomScoreAdj', (p, v) => (p.oomScoreAdj = v), '[-1000, 1000]'],
      ['plan.personality', (p, v) => (p.personality = v), '[0, 4294967295]'],
      ['plan.deathSignal', (p, v) => (p.deathSignal = v), '[1, 64]'],
      ['plan.groups[0]', (p, v) => (p.groups = [v]), '[0, 4294967294]'],
      ['plan.cpus[0]', (p, v) => (p.cpus = [v]), '[0, 1023]'],
      ['plan.caps.keep[0]', (p, v) => (p.caps.keep = [v]), '[0, 63]'],
      ['plan.devNullFds[0]', (p, v) => (p.devNullFds = [v]), '[0, 2]'],
      ['plan.rlimits[0].resource', (p, v) => (p.rlimits[0].resource = v), '[0, 63]'],
      ['plan.mounts[0].flags', (p, v) => (p.mounts[0] = { op: 'mount', source: null, target: '/x', fstype: 'tmpfs', flags: v, data: null, ref: null, optional: false }), '[0, 4294967295]'],
      ['plan.mounts[0].ref', (p, v) => (p.mounts[0].ref = v), '[0, 1048576]'],
      ['plan.mounts[0].mode', (p, v) => (p.mounts[0] = { op: 'mkdirs', path: '/x', mode: v, ref: null, optional: false }), '[0, 4095]'],
      ['plan.seccomp.insns[0][3]', (p, v) => (p.seccomp = { insns: [[6, 0, 0, v]], flags: 0, listener: [] }), '[0, 4294967295]'],
      ['plan.seccomp.flags', (p, v) => (p.seccomp = { insns: [[6, 0, 0, 0x7fff0000]], flags: v, listener: [] }), '[0, 255]'],
    ];
    const shown = (v: number) => String(v).replace(/[.+[\]()]/g, (c) => `\\${c}`);
    for (const [field, set, range] of fields) {
      for (const v of bad) {
        const p = clone();
        set(p, v);
        const message = new RegExp(`^invalid plan: ${field.replace(/[.[\]]/g, (c) => `\\${c}`)}: expected an integer in ${range.replace(/[[\]]/g, (c) => `\\${c}`)}, got ${shown(v)}$`);
        expect(() => addon.validatePlan(p as JailPlan, resources()), `${field} = ${v}`).toThrow(message);
      }
    }
    for (const v of bad) {
      refused(base, new RegExp(`^invalid plan: resources\\.stdio\\[1\\]: expected an integer in \\[-1, 2147483647\\], got ${shown(v)}$`), { ...resources(), stdio: [-1, v, -1] });
      refused(base, /^invalid plan: resources\.passFds\[0\]: expected an integer in \[3, 2147483647\], got /, { ...resources(), passFds: [v] });
    }
  });

  it('refuses stdio, exec and cgroup fds that are not open, naming the fd', () => {
    // A closed fd: its number is free, so nothing else can be open under it during this test.
    const [r, w] = addon.pipe();
    addon.close(r);
    addon.close(w);
    const closed = `fd ${w} is not open; pass an fd that stays open until the launch returns, or -1`;
    refused(base, `invalid plan: resources.stdio[1]: ${closed}`, { ...resources(), stdio: [-1, w, -1] });
    refused(base, `invalid plan: resources.execFd: ${closed}`, { ...resources(), execFd: w });
    refused(base, `invalid plan: resources.cgroupFd: ${closed}`, { ...resources(), cgroupFd: w });
    expect(() => addon.validatePlan(base, { ...resources(), stdio: [w, -1, -1] })).toThrow(`invalid plan: resources.stdio[0]: ${closed}`);
  });

  it('validatePlan accepts what launch accepts and clones nothing', () => {
    const before = childPids();
    expect(addon.validatePlan(base, resources())).toBeUndefined();
    expect(() => addon.validatePlan({ ...clone(), niceLevel: 100 } as JailPlan, resources())).toThrow(TypeError);
    expect(() => (addon.validatePlan as (...a: unknown[]) => unknown)(base)).toThrow(/^validatePlan\(plan: object, resources: object\)$/);
    expect(childPids()).toEqual(before);
  });

  it('checks the part of plan.cgroup it applies (attach, cloneInto), and no key it does not know', () => {
    const cgroup = { version: 1, dirs: [], setup: [], attach: [{ path: '/sys/fs/cgroup/memory/x/cgroup.procs', content: '{pid}' }], cloneInto: null };
    refused({ ...clone(), cgroup: { ...cgroup, attach: [{ path: 7, content: '{pid}' }] } }, /^invalid plan: plan\.cgroup\.attach\[0\]\.path: /);
    refused({ ...clone(), cgroup: { ...cgroup, attach: [{ ...cgroup.attach[0], mode: 1 }] } }, 'invalid plan: plan.cgroup.attach[0].mode: unknown field');
    refused({ ...clone(), cgroup: { ...cgroup, cloneInto: 3 } }, /^invalid plan: plan\.cgroup\.cloneInto: /);
    refused({ ...clone(), cgroup: { ...cgroup, attch: [] } }, 'invalid plan: plan.cgroup.attch: unknown field');
  });

  it('refuses non-object arguments', () => {
    expect(() => addon.launch(null as never, resources(), () => {}, undefined)).toThrow(TypeError);
    expect(() => (addon.launch as (...a: unknown[]) => unknown)(base)).toThrow(/launch\(plan: object, resources: object, onSetup: function, onListener: function \| undefined\)/);
  });

  it('nothing was launched by any refused plan', () => {
    expect(fs.existsSync(marker)).toBe(false);
    expect(childPids()).toEqual([]);
  });
});
