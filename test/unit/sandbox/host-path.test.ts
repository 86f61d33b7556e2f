/**
 * Bind sources in the planner: which symbolic links are followed (src/sandbox/host-path.ts), the
 * resolved path in the plan, nodev on binds, and the harmless device nodes over a host /dev
 * (src/sandbox/mounts.ts). The real kernel side is in test/integration/core/bind-source-links,
 * host-devices and scratch-dir.
 */
import { describe, expect, it } from 'vitest';
import { buildPlan, type PlannedJail } from '../../../src/sandbox';
import { resolveHostPath } from '../../../src/sandbox/host-path';
import { MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY, MS_BIND } from '../../../src/sandbox/kernel';
import type { MountOp } from '../../../src/sandbox/plan';
import { fromFlags } from '../../helpers/config';
import { FAKE_ENV, fakeHost, type FakeEntry } from '../../helpers/fake-host';
import { thrown } from '../../helpers/thrown';

const TREE: Record<string, FakeEntry | null> = {
  '/lib': { link: 'usr/lib' },
  '/usr/lib': 'dir',
  '/tmp': 'sticky',
  '/tmp/ws/project': { link: '/home/alice/.ssh' },
  '/home/alice/.ssh': 'dir',
  '/srv/links/mine': { link: '/srv/data', uid: 1000 },
  '/srv/loop/a': { link: 'b' },
  '/srv/loop/b': { link: 'a' },
  '/tmp/dangling': { link: '/nowhere' },
  '/dev/kvm': 'chr',
  '/dev/full': 'chr',
  '/dev/tty': 'chr',
};

function plan(argv: string[]): PlannedJail {
  const { loaded, command } = fromFlags(argv);
  return buildPlan(loaded, { command, env: FAKE_ENV, filter: null, host: fakeHost({ tree: TREE }) });
}

const mounts = (p: PlannedJail) => p.plan.mounts.filter((o): o is Extract<MountOp, { op: 'mount' }> => o.op === 'mount');
const setattrOn = (p: PlannedJail, target: string) => p.plan.mounts.find((o) => o.op === 'setattr' && o.target === target);

describe('resolving a host path', () => {
  const host = fakeHost({ tree: TREE });

  it("follows root's links in root's directories, relative and absolute, with '..'", () => {
    expect(resolveHostPath('/lib/x/../', fakeHost({ tree: { ...TREE, '/usr/lib/x': 'dir' } }))).toMatchObject({ kind: 'ok', path: '/usr/lib' });
    expect(resolveHostPath('/lib', host)).toEqual({ kind: 'ok', path: '/usr/lib', entry: { type: 'dir', uid: 0, mode: 0o755 } });
  });

  it('refuses a link in a directory others can write, or a link of another user, saying why and where it leads', () => {
    expect(resolveHostPath('/tmp/ws/project', host)).toEqual({
      kind: 'untrusted',
      link: '/tmp/ws/project',
      target: '/home/alice/.ssh',
      reason: '/tmp is writable by others (mode 1777)',
      resolved: '/home/alice/.ssh',
    });
    expect(resolveHostPath('/srv/links/mine', host)).toMatchObject({ kind: 'untrusted', reason: 'the link belongs to uid 1000, not root', resolved: '/srv/data' });
    expect(resolveHostPath('/tmp/dangling', host)).toMatchObject({ kind: 'untrusted', resolved: null });
  });

  it('a missing path and a loop of links are missing', () => {
    expect(resolveHostPath('/nonexistent', host)).toEqual({ kind: 'missing' });
    expect(resolveHostPath('/srv/loop/a', host)).toEqual({ kind: 'missing' });
    expect(resolveHostPath('/srv/data/config.json/x', host)).toEqual({ kind: 'missing' });
  });
});

describe('bind sources in the plan', () => {
  it('the plan mounts the resolved path: -R /lib is /usr/lib', () => {
    const p = plan(['-R', '/lib', '--', '/bin/true']);
    expect(mounts(p).find((o) => o.target === '/run/jail-test/root/lib')?.source).toBe('/usr/lib');
  });

  it('a source through an untrusted link is refused against its flag, with the resolved path as the fix', () => {
    const e = thrown(() => plan(['-B', '/tmp/ws/project:/mnt', '--', '/bin/true']));
    expect(e.code).toBe('flag');
    expect(e.message).toBe(
      "flag --bindmount: mount #1 /tmp/ws/project -> /mnt (bind, rw): the source '/tmp/ws/project' leads through the symbolic link /tmp/ws/project -> /home/alice/.ssh, which a jail could have written (/tmp is writable by others (mode 1777))",
    );
    expect(e.hint).toBe('jail follows only links that belong to root, in directories only root can write; if /home/alice/.ssh is really what you mean, name it as the source instead');
    expect(thrown(() => plan(['--chroot', '/tmp/dangling', '--', '/bin/true'])).hint).toContain('the link leads nowhere');
    expect(thrown(() => plan(['--disable_clone_newns', '--chroot', '/srv/links/mine', '--', '/bin/true'])).message).toContain('flag --chroot: chroot /srv/links/mine: the source');
  });

  it('every bind is nodev unless its source is a device node', () => {
    const p = plan(['-R', '/usr', '-B', '/srv/data:/data', '-B', '/dev/kvm', '--', '/bin/true']);
    expect(setattrOn(p, '/run/jail-test/root/usr')).toMatchObject({ attrSet: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV, recursive: true });
    expect(setattrOn(p, '/run/jail-test/root/data')).toMatchObject({ attrSet: MOUNT_ATTR_NODEV, recursive: true });
    expect(setattrOn(p, '/run/jail-test/root/dev/kvm')).toBeUndefined();
  });
});

describe('the harmless device nodes', () => {
  const harmless = (p: PlannedJail) => mounts(p).filter((o) => o.flags === MS_BIND && o.source?.startsWith('/dev/')).map((o) => o.source);

  it('are bound over a host /dev (--chroot /, -R /dev), right after the bind that shows it, those the host has', () => {
    for (const argv of [['--chroot', '/'], ['-R', '/dev']]) {
      const p = plan([...argv, '--', '/bin/true']);
      expect(harmless(p)).toEqual(['/dev/null', '/dev/zero', '/dev/full', '/dev/urandom', '/dev/tty']);
      const first = p.plan.mounts.findIndex((o) => o.op === 'mount' && o.source === '/dev/null');
      expect(p.plan.mounts[first - 1]).toMatchObject({ op: 'setattr', recursive: true });
    }
  });

  it("are not bound where the jail's /dev is not the host's", () => {
    expect(harmless(plan(['--chroot', '/', '-T', '/dev', '--', '/bin/true']))).toEqual([]);
    expect(harmless(plan(['--chroot', '/srv/data', '--', '/bin/true']))).toEqual([]);
    expect(harmless(plan(['-R', '/usr', '--', '/bin/true']))).toEqual([]);
  });

  it('a later mount under /dev still covers them', () => {
    const p = plan(['--chroot', '/', '-T', '/dev/shm', '--', '/bin/true']);
    const nul = p.plan.mounts.findIndex((o) => o.op === 'mount' && o.source === '/dev/null');
    const shm = p.plan.mounts.findIndex((o) => o.op === 'mount' && o.target === '/run/jail-test/root/dev/shm');
    expect(nul).toBeLessThan(shm);
  });
});
