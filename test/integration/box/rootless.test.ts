/**
 * Boxes without root: an ordinary user creates, starts, enters and removes a box, its workspace
 * files are that user's, exec has the init's namespaces, the overlay root works (userxattr), and
 * a limit the host does not delegate is refused with the reason.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import type { CliResult } from '../core/helpers';
import { initsOf, jailOnTerminal, miniRootfs, namespacesOf } from './box-helpers';

const reason = process.getuid!() !== 0 ? 'needs root to create the test user' : rootlessReason();

describe.skipIf(reason !== null)('boxes (rootless)', () => {
  const fx = unprivilegedUser('jailboxuser');

  function setup(): { state: string; ws: string; jail: (args: string[]) => ReturnType<ReturnType<typeof fx>['jail']>; onTerminal: (args: string[]) => Promise<CliResult> } {
    const { user, dir } = fx();
    const base = fs.mkdtempSync(path.join(dir, 'box-'));
    fs.chmodSync(base, 0o755);
    const ws = path.join(base, 'ws');
    const home = path.join(base, 'home');
    for (const d of [ws, home]) {
      fs.mkdirSync(d);
      fs.chownSync(d, user.uid, user.gid);
    }
    fs.chownSync(base, user.uid, user.gid);
    const state = path.join(base, 'state');
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, JAIL_STATE_DIR: state };
    return { state, ws, jail: (args) => fx().jail(args, { env, cwd: base }), onTerminal: (args) => jailOnTerminal(args, { env, cwd: base, asUser: user }) };
  }

  it('create, start, exec, diff, stop, rm as an ordinary user', async () => {
    const { user } = fx();
    const { state, ws, jail, onTerminal } = setup();
    try {
      const created = await jail(['box', 'create', 'mine', '--workspace', ws]);
      expect(created.code, created.stderr).toBe(0);
      const started = await jail(['box', 'start', 'mine']);
      expect(started.code, started.stderr).toBe(0);
      const r = await jail(['box', 'exec', 'mine', '--', 'sh', '-c', 'id -u; echo made > /workspace/f; mkdir -p /srv/x; cat /proc/self/status | grep -E "^(CapEff|NoNewPrivs|Seccomp):"']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^1000\nCapEff:\s+0+\nNoNewPrivs:\s+1\nSeccomp:\s+2\n$/);
      expect(fs.statSync(path.join(ws, 'f'))).toMatchObject({ uid: user.uid, gid: user.gid });
      expect(JSON.parse((await jail(['box', 'diff', 'mine', '--json'])).stdout)).toEqual({ added: ['/srv', '/srv/x'], changed: [], deleted: [] });
      // A terminal of the box's own devpts, the box user's.
      const term = await onTerminal(['box', 'exec', 'mine', '--', 'sh', '-c', 'tty; stat -c %u "$(tty)"; ls -1 /dev/pts']);
      expect(term.code, term.stdout + term.stderr).toBe(0);
      expect(term.stdout).toBe('/dev/pts/0\n1000\n0\nptmx\n');

      const [init] = initsOf(state);
      expect(init).toBeGreaterThan(0);
      // Owned by the user, in a user namespace of its own.
      expect(fs.statSync(`/proc/${init}`).uid).toBe(user.uid);
      expect(namespacesOf(init).user).not.toBe(namespacesOf(process.pid).user);

      expect((await jail(['box', 'stop', 'mine'])).code).toBe(0);
      expect(initsOf(state)).toEqual([]);
      expect((await jail(['box', 'rm', 'mine'])).code).toBe(0);
      expect(fs.existsSync(path.join(state, 'boxes', 'mine'))).toBe(false);
    } finally {
      await jail(['box', 'rm', '--force', 'mine']);
    }
  });

  it('diff on an imported image: a directory removed and made again hides what was below (opaque, userxattr)', async () => {
    const { user } = fx();
    const { state, jail } = setup();
    const tree = path.join(path.dirname(state), 'tree');
    miniRootfs(tree, user);
    fs.mkdirSync(path.join(tree, 'etc', 'conf.d', 'sub'), { recursive: true });
    for (const f of ['a', 'b', 'sub/c']) fs.writeFileSync(path.join(tree, 'etc', 'conf.d', f), `${f}\n`);
    execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, tree]);
    try {
      expect((await jail(['image', 'import', 'mini', tree])).code).toBe(0);
      expect((await jail(['box', 'create', 'opaque', '--image', 'mini'])).code).toBe(0);
      expect((await jail(['box', 'start', 'opaque'])).code).toBe(0);
      const w = await jail(['box', 'exec', 'opaque', '--', 'sh', '-c', 'rm -r /etc/conf.d && mkdir -p /etc/conf.d/sub && echo n > /etc/conf.d/new && ls /etc/conf.d /etc/conf.d/sub']);
      expect(w.code, w.stderr).toBe(0);
      expect(w.stdout).toBe('/etc/conf.d:\nnew\nsub\n\n/etc/conf.d/sub:\n');
      const diff = JSON.parse((await jail(['box', 'diff', 'opaque', '--json'])).stdout);
      expect(diff).toEqual({ added: ['/etc/conf.d/new'], changed: ['/etc/conf.d'], deleted: ['/etc/conf.d/a', '/etc/conf.d/b', '/etc/conf.d/sub/c'] });
    } finally {
      await jail(['box', 'rm', '--force', 'opaque']);
      await jail(['image', 'rm', 'mini']);
    }
  });

  it('a memory limit the host does not delegate stops the start with the reason', async () => {
    const { state, jail } = setup();
    try {
      await jail(['box', 'create', 'limited', '--memory', '100M']);
      const r = await jail(['box', 'start', 'limited']);
      if (r.code === 0) {
        // A host that delegates cgroups to this user: the limit must then be in force.
        const limit = (await jail(['box', 'exec', 'limited', '--', 'sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || echo none'])).stdout.trim();
        expect(limit).toBe(String(100 << 20));
      } else {
        expect(r.stderr).toContain('cgroup_mem_max: cannot create cgroups');
        expect(initsOf(state)).toEqual([]);
      }
    } finally {
      await jail(['box', 'rm', '--force', 'limited']);
    }
  });
});
