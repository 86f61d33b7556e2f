/**
 * A bind source cannot be redirected by a symbolic link a jail could have planted (docs/architecture.md §5).
 * The agent-pipeline case: jail 1 gets a workspace writable (-B /ws:/mnt) and plants
 * `project -> <secret>` in it; jail 2 is given `-B /ws/project:/mnt` and used to read (and
 * write) the secret. Now the planner follows only links no jail could have written
 * (src/sandbox/host-path.ts) and refuses this one naming the link and the real path; system
 * links (/lib -> usr/lib) still work and the plan shows where they lead; and the child mounts
 * exactly the planned path (openat2 RESOLVE_NO_SYMLINKS), so a link swapped in after planning
 * fails the launch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import { describeAsRoot, describeIf } from '../../helpers/env';
import { hostPlan, requireAddon, launchToExec } from '../../helpers/native';
import { cli, cliFixture, killSpawned, runFlags, SYSTEM_PATH, tempDir, type CliOptions } from './helpers';
import { createTestUser, removeTestUser, testUserReason, type TestUser } from './test-users';

const SYSTEM = ['-R', '/bin', '-R', '/lib', '-R', '/lib64', '-R', '/usr'];
const ELOOP = 40;

/** A workspace and a secret next to it, under `dir`; returns their paths. */
function layout(dir: string) {
  const ws = path.join(dir, 'ws');
  const secret = path.join(dir, 'secret');
  fs.mkdirSync(ws, { recursive: true, mode: 0o755 });
  fs.mkdirSync(secret, { mode: 0o755 });
  fs.writeFileSync(path.join(secret, 'key'), 'SECRET-KEY\n', { mode: 0o644 });
  return { ws, secret };
}

describeAsRoot('bind sources and symbolic links, as root', () => {
  const tmp = cliFixture();

  it('a link planted by an earlier jail in its workspace is refused as the next bind source; the secret stays untouched', async () => {
    const { ws, secret } = layout(tmp().dir);
    const planted = await runFlags(['-q', ...SYSTEM, '-B', `${ws}:/mnt`], ['/bin/ln', '-s', secret, '/mnt/project']);
    expect(planted.exitCode).toBe(0);
    expect(fs.readlinkSync(path.join(ws, 'project'))).toBe(secret);

    const read = await runFlags(['-q', ...SYSTEM, '-B', `${ws}/project:/mnt`], ['/bin/sh', '-c', 'cat /mnt/key; echo x > /mnt/written']).catch((e: Error) => e);
    expect(read).toBeInstanceOf(Error);
    const err = read as Error & { hint?: string };
    expect(err.message).toContain(`flag --bindmount: mount #5 ${ws}/project -> /mnt (bind, rw): the source '${ws}/project' leads through the symbolic link ${ws}/project -> ${secret}, which a jail could have written (/tmp is writable by others (mode 1777))`);
    expect(err.hint).toContain(`if ${secret} is really what you mean, name it as the source instead`);
    expect(fs.readdirSync(secret)).toEqual(['key']);
  });

  it('the same through the CLI: exit 255, the message, and the fix', async () => {
    const { ws, secret } = layout(path.join(tmp().dir, 'cli'));
    fs.symlinkSync(secret, path.join(ws, 'project'));
    const r = await cli(['-q', ...SYSTEM, '-R', `${ws}/project:/mnt`, '--', '/bin/cat', '/mnt/key']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`leads through the symbolic link ${ws}/project -> ${secret}`);
    expect(r.stderr).toContain(`name it as the source instead`);
  });

  it('--chroot follows the same rule', async () => {
    const { ws, secret } = layout(path.join(tmp().dir, 'chroot'));
    fs.symlinkSync(secret, path.join(ws, 'root'));
    const r = await cli(['-q', '--chroot', `${ws}/root`, '--', '/key']);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain(`flag --chroot: mount #1 ${ws}/root -> / (bind, ro): the source '${ws}/root' leads through the symbolic link`);
  });

  it('system links work: -R /lib on a merged-/usr host mounts /usr/lib, and `jail plan` shows it', async () => {
    const lib = fs.lstatSync('/lib');
    // This machine is merged-/usr (Debian 12+): /lib is root's link to usr/lib in root's /.
    expect(lib.isSymbolicLink()).toBe(true);
    const plan = await cli(['plan', ...SYSTEM, '--', '/bin/true']);
    expect(plan.code).toBe(0);
    const ops = JSON.parse(plan.stdout).mounts as Array<{ op: string; source?: string; target?: string }>;
    expect(ops.find((o) => o.op === 'mount' && o.target?.endsWith('/root/lib'))?.source).toBe(fs.realpathSync('/lib'));
    const r = await runFlags(['-q', ...SYSTEM], ['/bin/sh', '-c', 'test -f /lib/x86_64-linux-gnu/libc.so.6 -o -f /lib/aarch64-linux-gnu/libc.so.6 && echo ok']);
    expect(r.stdout).toBe('ok\n');
  });

  describe('a component swapped for a link between planning and launch', () => {
    it('fails the launch at that mount with ELOOP instead of following the link', async () => {
      const addon = requireAddon();
      const { ws, secret } = layout(path.join(tmp().dir, 'swap'));
      const project = path.join(ws, 'project');
      fs.mkdirSync(project);
      const planned = hostPlan([...SYSTEM, '-R', `${project}:/mnt`, '--', '/bin/cat', '/mnt/key']);
      const opIndex = planned.plan.mounts.findIndex((o) => o.op === 'mount' && o.source === project);
      expect(opIndex).toBeGreaterThan(0);
      fs.rmdirSync(project);
      fs.symlinkSync(secret, project);
      const r = await launchToExec(addon, planned.plan, { stdio: [-1, -1, -1], passFds: [], execFd: -1, cgroupFd: -1, netGate: [-1, -1] });
      if (r.ok) {
        await new Promise((resolve) => addon.watchExit(r.pidfd, r.pid, resolve));
        addon.close(r.pidfd);
      }
      expect(r).toEqual({ ok: false, stage: 'mount', opIndex, errno: ELOOP });
    });
  });
});

describeIf('bind sources and symbolic links, rootless', testUserReason(), () => {
  const USER = 'jail-it-links';
  let user: TestUser;
  let tmp: ReturnType<typeof tempDir>;
  const asUser = (args: string[], opts: CliOptions = {}) => cli(args, { ...opts, asUser: user, cwd: '/', env: { PATH: SYSTEM_PATH, HOME: '/' } });

  beforeAll(() => {
    user = createTestUser(USER);
    tmp = tempDir('jail-it-links-');
  });
  afterAll(() => {
    killSpawned();
    removeTestUser(USER);
    tmp?.remove();
    expect(fs.readFileSync('/etc/passwd', 'utf8')).not.toContain(`${USER}:`);
  });

  it("a link planted by the user's earlier jail is refused; the user's own secret stays unread", async () => {
    const { ws, secret } = layout(tmp.dir);
    fs.chownSync(ws, user.uid, user.gid);
    fs.chmodSync(secret, 0o700);
    fs.chownSync(secret, user.uid, user.gid);
    fs.chownSync(path.join(secret, 'key'), user.uid, user.gid);
    const planted = await asUser(['-q', ...SYSTEM, '-B', `${ws}:/mnt`, '--', '/bin/ln', '-s', secret, '/mnt/project']);
    expect(planted.stderr).toBe('');
    expect(planted.code).toBe(0);
    expect(fs.lstatSync(path.join(ws, 'project')).uid).toBe(user.uid);

    const r = await asUser(['-q', ...SYSTEM, '-B', `${ws}/project:/mnt`, '--', '/bin/cat', '/mnt/key']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`the symbolic link ${ws}/project -> ${secret}, which a jail could have written (the link belongs to uid ${user.uid}, not root)`);
    expect(fs.readdirSync(secret)).toEqual(['key']);
  });

  it('system links work rootless too (-R /lib)', async () => {
    const r = await asUser(['-q', ...SYSTEM, '--', '/bin/sh', '-c', 'test -d /lib/$(uname -m)-linux-gnu && echo ok']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
  });
});
