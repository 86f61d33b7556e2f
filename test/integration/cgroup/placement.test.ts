/**
 * Where jails' cgroups go, depending on where the supervisor runs — the cases cgroup v2's "no
 * internal processes" rule makes hard (nsjail #196, #219): the supervisor alone in its cgroup
 * (it moves into a leaf of its own), an ordinary user in a delegated cgroup, a cgroup shared with
 * other processes. cgroup v1 has no such rule; there the same situations are checked to change
 * nothing. Each test runs the jail CLI inside cgroups it makes and removes itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { parseProbe, probePath, runFlags } from '../core/helpers';
import { cgroupVersion, jailIn, killStarted, mountsFor, runInCgroups, testCgroup } from './helpers';

const NOBODY = 65534;

/** The cgroups directly below `dir` (a cgroup directory also holds its control files). */
function children(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
}

describeAsRoot('cgroup placement', () => {
  let version: 1 | 2;
  let cleanups: Array<() => Promise<void>> = [];
  beforeAll(() => {
    version = cgroupVersion();
    probePath();
  });
  afterEach(async () => {
    killStarted();
    try {
      for (const c of cleanups.reverse()) await c();
    } finally {
      cleanups = [];
    }
  });

  /** A test cgroup (v2: one; v1: memory, pids, freezer), removed after the test. */
  function own(): string[] {
    const cg = testCgroup(mountsFor(version, ['memory', 'pids', 'freezer']));
    cleanups.push(cg.remove);
    return cg.dirs;
  }

  /** Lets `uid` manage a v2 cgroup the way systemd's Delegate=yes does. */
  function delegate(dir: string, uid: number): void {
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) fs.chownSync(path.join(dir, f), uid, uid);
  }

  /** A process that just sits in `dirs` (another process sharing the cgroup). */
  async function companion(dirs: string[]): Promise<number> {
    let pid = 0;
    void runInCgroups(dirs, ['sleep', '60']);
    const end = Date.now() + 5000;
    while (pid === 0 && Date.now() < end) {
      pid = fs.readFileSync(path.join(dirs[0], 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)[0] ?? 0;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (pid === 0) throw new Error('the companion process did not join its cgroup');
    return pid;
  }

  it('alone in its cgroup: on v2 the supervisor moves into a leaf of its own so the limits work; on v1 nothing moves', async () => {
    const dirs = own();
    const r = await jailIn(dirs, ['--chroot', '/', '--memory', '64M', '--', probePath(), 'alloc:256']);
    expect(r.code, r.stderr).toBe(137);
    expect(r.stderr).toContain('killed: memory limit 64 MiB reached');
    if (version === 2) {
      const [cg] = dirs;
      const leaf = children(path.join(cg, 'JAIL')).filter((n) => n.startsWith(`supervisor.${r.pid}.`));
      expect(leaf).toHaveLength(1);
      expect(r.stderr).toContain(`moved this process (pid ${r.pid}) from ${cg} into ${cg}/JAIL/${leaf[0]}`);
      expect(fs.readFileSync(path.join(cg, 'cgroup.subtree_control'), 'utf8')).toMatch(/memory/);
      // Its jail's cgroup is gone; the leaf stays (it held the supervisor) until a run with the
      // same parent finds its supervisor gone.
      expect(children(path.join(cg, 'JAIL'))).toEqual(leaf);
      const { logs } = await runFlags(['--chroot', '/', '--cgroupv2_mount', cg], [probePath(), 'none']);
      expect(logs.some((l) => l.includes(`${cg}/JAIL/${leaf[0]}, left by jail supervisor pid ${r.pid}`))).toBe(true);
      expect(children(path.join(cg, 'JAIL'))).toEqual([]);
    } else {
      expect(r.stderr).not.toContain('moved this process');
      for (const d of dirs) expect(children(d)).toEqual([]);
    }
  });

  it('an ordinary user: on v2 limits work inside a cgroup delegated to it; on v1 it gets no cgroup, and a limit says to run as root', async () => {
    if (version === 2) {
      const [cg] = own();
      delegate(cg, NOBODY);
      const r = await jailIn([cg], ['--chroot', '/', '--pids', '16', '--memory', '64M', '--', probePath(), 'fork:40'], { uid: NOBODY });
      expect(r.code, r.stderr).toBe(0);
      expect(parseProbe(r.stdout).fork).toMatchObject({ errno: 'EAGAIN' });
      expect(parseProbe(r.stdout).fork.forked).toBeLessThan(16);
      expect(r.stderr).toContain(`moved this process (pid ${r.pid})`);
      expect(r.stderr).toMatch(/pids limit 16 reached: \d+ forks? refused/);
      // The leaf the first run left is the user's too; a process started in it belongs below cg.
      const leaf = path.join(cg, 'JAIL', children(path.join(cg, 'JAIL')).find((n) => n.startsWith('supervisor.'))!);
      const oom = await jailIn([leaf], ['--chroot', '/', '--memory', '64M', '--', probePath(), 'alloc:256'], { uid: NOBODY });
      expect(oom.code, oom.stderr).toBe(137);
      expect(oom.stderr).toContain('killed: memory limit 64 MiB reached');
    } else {
      const plain = await jailIn([], ['--chroot', '/', '--', probePath(), 'none'], { uid: NOBODY });
      expect(plain.code, plain.stderr).toBe(0);
      const limited = await jailIn([], ['--chroot', '/', '--memory', '64M', '--', probePath(), 'none'], { uid: NOBODY });
      expect(limited.code).toBe(255);
      expect(limited.stderr).toContain(`flag --memory: cannot create cgroups in `);
      expect(limited.stderr).toContain('hint: cgroup v1 hierarchies belong to root: run jail as root');
    }
  });

  it('a cgroup shared with another process: on v2 root puts its jails at the top, a user is told why limits cannot work there; on v1 it does not matter', async () => {
    const dirs = own();
    const other = await companion(dirs);
    const root = await jailIn(dirs, ['--chroot', '/', '--memory', '64M', '--', probePath(), 'alloc:256']);
    expect(root.code, root.stderr).toBe(137);
    expect(root.stderr).not.toContain('moved this process');
    // Nothing was made below the shared cgroup, and the other process is where it was.
    for (const d of dirs) expect(children(d)).toEqual([]);
    expect(fs.readFileSync(path.join(dirs[0], 'cgroup.procs'), 'utf8')).toContain(String(other));
    if (version === 2) {
      const [cg] = dirs;
      delegate(cg, NOBODY);
      const user = await jailIn([cg], ['--chroot', '/', '--memory', '64M', '--', probePath(), 'none'], { uid: NOBODY });
      expect(user.code).toBe(255);
      expect(user.stderr).toContain(`cannot enable memory in ${cg}/cgroup.subtree_control: ${cg} holds other processes (pid ${other}`);
      expect(user.stderr).toContain('hint: run jail in a cgroup of its own, e.g. systemd-run --scope -p Delegate=yes jail');
      // Without limits nothing needs enabling: the jail gets its cgroup below the shared one.
      const plain = await jailIn([cg], ['--chroot', '/', '--', probePath(), 'none'], { uid: NOBODY });
      expect(plain.code, plain.stderr).toBe(0);
      // Its cgroup is gone, and so is the JAIL parent it made for it.
      expect(fs.existsSync(path.join(cg, 'JAIL'))).toBe(false);
    }
  });
});
