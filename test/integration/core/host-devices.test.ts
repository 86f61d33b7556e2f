/**
 * No host device node is usable in a jail unless it is bound explicitly (docs/architecture.md §5): a
 * read-only bind does not stop I/O on a device, so under `--chroot /` the host's /dev/kmsg
 * (log injection), /dev/kvm, /dev/net/tun and /dev/fuse used to open read-write. Binds are now
 * nodev unless their source is a device node; the harmless nodes a program expects stay usable
 * where the jail sees the host's /dev (docs/nsjail-differences.md).
 *
 * The probe's `path:P` check opens P for writing (and closes it untouched): EACCES is the kernel
 * refusing a device on a nodev mount.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot, describeIf } from '../../helpers/env';
import { cli, cliFixture, killSpawned, parseProbe, probePath, runProbe, SYSTEM_PATH, tempDir } from './helpers';
import { createTestUser, removeTestUser, testUserReason, type TestUser } from './test-users';

/** Device nodes that must not be usable, as far as this machine has them (a VM may lack kvm, fuse). */
const DANGEROUS = ['/dev/kmsg', '/dev/kvm', '/dev/net/tun', '/dev/fuse'].filter((p) => fs.existsSync(p));
const HARMLESS = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom'];
const checks = (paths: string[]) => paths.map((p) => `path:${p}`);

describeAsRoot('host device nodes as root', () => {
  cliFixture({ probe: true });

  it('--chroot /: /dev/kmsg, /dev/kvm, /dev/net/tun, /dev/fuse cannot be opened; null, zero, full, random, urandom work', async () => {
    expect(DANGEROUS).toContain('/dev/kmsg');
    const { result, probe } = await runProbe(['-q', '--chroot', '/'], [...checks([...DANGEROUS, ...HARMLESS, '/dev/tty']), 'mounts']);
    expect(result.exitCode).toBe(0);
    for (const p of DANGEROUS) expect({ p, errno: probe.paths[p].writeErrno }).toEqual({ p, errno: 'EACCES' });
    for (const p of HARMLESS) expect({ p, errno: probe.paths[p].writeErrno }).toEqual({ p, errno: null });
    // The jail has no controlling terminal (setsid): its own /dev/tty is not a host device.
    expect(probe.paths['/dev/tty'].writeErrno).toBe('ENXIO');
    const points = (probe.mounts as Array<{ mountpoint: string }>).map((m) => m.mountpoint);
    for (const p of [...HARMLESS, '/dev/tty']) expect(points).toContain(p);
  });

  it('a device bound explicitly works (-B /dev/fuse, or the first such node this machine has); the others stay closed', async () => {
    const [bound, ...others] = [...DANGEROUS.filter((p) => p !== '/dev/kmsg'), '/dev/kmsg'];
    const { result, probe } = await runProbe(['-q', '--chroot', '/', '-B', bound], checks(DANGEROUS));
    expect(result.exitCode).toBe(0);
    expect(probe.paths[bound].writeErrno).toBe(null);
    for (const p of others) expect({ p, errno: probe.paths[p].writeErrno }).toEqual({ p, errno: 'EACCES' });
  });

  it('-R /dev shows the host /dev with the harmless nodes only; with a tmpfs over /dev none are bound', async () => {
    const bound = await runProbe(['-q', '--chroot', '/', '-R', '/dev'], checks(['/dev/kmsg', '/dev/null']));
    expect(bound.probe.paths['/dev/kmsg'].writeErrno).toBe('EACCES');
    expect(bound.probe.paths['/dev/null'].writeErrno).toBe(null);
    const fresh = await runProbe(['-q', '--chroot', '/', '-T', '/dev'], ['mounts', ...checks(['/dev/null'])]);
    expect(fresh.result.exitCode).toBe(0);
    expect(fresh.probe.paths['/dev/null'].exists).toBe(false);
    // (The host's /dev/pts and friends stay listed, hidden under the tmpfs.)
    expect((fresh.probe.mounts as Array<{ mountpoint: string }>).filter((m) => HARMLESS.includes(m.mountpoint))).toEqual([]);
  });

  it('a device node elsewhere in a bind (here under a bound directory) is not usable either', async () => {
    const tmp = tempDir('jail-it-dev-');
    try {
      // A copy of /dev/net/tun's node (10:200), as anyone could find in a host tree.
      execFileSync('mknod', ['-m', '0666', path.join(tmp.dir, 'tun'), 'c', '10', '200']);
      const { probe } = await runProbe(['-q', '--chroot', '/', '-B', `${tmp.dir}:/mnt`], checks(['/mnt/tun']));
      expect(probe.paths['/mnt/tun'].writeErrno).toBe('EACCES');
    } finally {
      tmp.remove();
    }
  });
});

describeIf('host device nodes rootless', testUserReason(), () => {
  const USER = 'jail-it-devices';
  let user: TestUser;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(() => {
    probePath();
    user = createTestUser(USER);
    tmp = tempDir('jail-it-devices-');
    // The machine's own dangerous nodes are 0600 root here, closed to the user anyway; a node it
    // may open (a copy of /dev/net/tun's 10:200, mode 0666) shows what the mount alone allows.
    execFileSync('mknod', ['-m', '0666', path.join(tmp.dir, 'tun'), 'c', '10', '200']);
  });
  afterAll(() => {
    killSpawned();
    removeTestUser(USER);
    tmp?.remove();
    expect(fs.readFileSync('/etc/passwd', 'utf8')).not.toContain(`${USER}:`);
  });

  it('--chroot /: a device node the user may open is not usable; the harmless ones are', async () => {
    const r = await cli(['-q', '--chroot', '/', '--', probePath(), ...checks([path.join(tmp.dir, 'tun'), ...HARMLESS])], {
      asUser: user,
      cwd: '/',
      env: { PATH: SYSTEM_PATH, HOME: '/' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const probe = parseProbe(r.stdout);
    expect(probe.paths[path.join(tmp.dir, 'tun')].writeErrno).toBe('EACCES');
    for (const p of HARMLESS) expect({ p, errno: probe.paths[p].writeErrno }).toEqual({ p, errno: null });
  });
});
