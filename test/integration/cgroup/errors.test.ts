/**
 * A limit that cannot be applied stops the launch with a message that names the file, the
 * controller or the field, and how to fix it — and leaves nothing behind. Bad parents and
 * mounts for this host's cgroup version; a user without a delegated cgroup on either.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, expect, it } from 'vitest';
import { JailError } from '../../../src/errors';
import { describeAsRoot } from '../../helpers/env';
import { cli, probePath, runFlags } from '../core/helpers';
import { parseCgroupMounts } from '../../../src/cgroup/facts';
import { cgroupDirsOf, cgroupsOfSupervisor, cgroupVersion } from './helpers';

const NOBODY = 65534;

async function rejection(flags: string[]): Promise<JailError> {
  try {
    await runFlags(flags, [probePath(), 'none']);
  } catch (e) {
    if (e instanceof JailError) return e;
    throw e;
  }
  throw new Error(`jail started with ${flags.join(' ')}`);
}

describeAsRoot('cgroup errors', () => {
  let version: 1 | 2;
  beforeAll(() => {
    version = cgroupVersion();
    probePath();
  });

  it('a parent outside its hierarchy, or in no cgroup filesystem, is refused before anything is made', async () => {
    if (version === 1) {
      const up = await rejection(['--chroot', '/', '--memory', '64M', '--cgroup_mem_parent', '../escape']);
      expect(up.code).toBe('flag');
      expect(up.message).toBe("flag --cgroup_mem_parent: '../escape' is not a cgroup below the hierarchy: use plain names, without '.' or '..'");
      const mount = await rejection(['--chroot', '/', '--pids', '8', '--cgroup_pids_mount', '/tmp']);
      expect(mount.message).toMatch(/^flag --cgroup_pids_mount: \/tmp is not a cgroup v1 hierarchy \(it is \w+\)$/);
    } else {
      const e = await rejection(['--chroot', '/', '--memory', '64M', '--use_cgroupv2', '--cgroupv2_mount', '/tmp']);
      expect(e.code).toBe('flag');
      expect(e.message).toMatch(/^flag --cgroupv2_mount: \/tmp is not in a cgroup v2 filesystem \(it is \w+\)$/);
    }
    expect(cgroupsOfSupervisor(process.pid)).toEqual([]);
  });

  it('a parent the kernel cannot create (a file in its way) stops the launch with the errno and removes what was made', async () => {
    // A control file of the hierarchy's root stands where the parent directory would go.
    const flags = version === 1 ? ['--cgroup_mem_parent', 'cgroup.procs'] : ['--cgroupv2_mount', '/sys/fs/cgroup/cgroup.procs'];
    const e = await rejection(['--chroot', '/', ...flags]);
    expect(e.code).toBe('cgroup');
    expect(e.message).toMatch(/^cannot create cgroup \/sys\/fs\/cgroup\/.*cgroup\.procs\/.*: ENOTDIR \(not a directory\)$/);
    expect(cgroupsOfSupervisor(process.pid)).toEqual([]);
  });

  it('net_cls: on a host without a net_cls hierarchy, or on cgroup v2, the launch stops naming the field and the fix; with one, the jail is in it with the classid', async () => {
    const flags = ['--chroot', '/', '--cgroup_net_cls_classid', '0x100001'];
    const netCls = parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.version === 1 && m.controllers.includes('net_cls'));
    if (version === 1 && netCls) {
      let classid = '';
      const result = await runFlags(flags, [probePath(), 'sleep:30'], {
        onStart: (jail) => {
          try {
            classid = readFileSync(`${cgroupDirsOf(jail.pid).get('net_cls')}/net_cls.classid`, 'utf8').trim();
          } finally {
            jail.kill('SIGKILL');
          }
        },
      });
      expect(result.outcome).toBe('signaled');
      expect(classid).toBe(String(0x100001));
    } else {
      const e = await rejection(flags);
      expect(e.code).toBe('flag');
      if (version === 1) {
        expect(e.message).toBe('flag --cgroup_net_cls_classid: no cgroup v1 hierarchy has the net_cls controller (none is mounted, see /proc/self/mountinfo)');
        expect(e.hint).toMatch(/^mount it \(mkdir -p \/sys\/fs\/cgroup\/net_cls && mount -t cgroup -o net_cls cgroup \/sys\/fs\/cgroup\/net_cls\), or set cgroup_net_cls_mount/);
      } else {
        expect(e.message).toBe('flag --cgroup_net_cls_classid: net_cls exists in cgroup v1 only, and this jail uses cgroup v2');
      }
    }
    const v2 = await rejection([...flags, '--use_cgroupv2']);
    expect(v2.message).toBe('flag --cgroup_net_cls_classid: net_cls exists in cgroup v1 only, and this jail uses cgroup v2');
    expect(cgroupsOfSupervisor(process.pid)).toEqual([]);
  });

  it('a user without a cgroup of its own: no limits run without a cgroup; a limit fails, saying how to fix it', async () => {
    const plain = await cli(['--chroot', '/', '--', probePath(), 'none'], { asUser: { uid: NOBODY, gid: NOBODY } });
    expect(plain.code, plain.stderr).toBe(0);
    const limited = await cli(['--chroot', '/', '--memory', '64M', '--', probePath(), 'none'], { asUser: { uid: NOBODY, gid: NOBODY } });
    expect(limited.code).toBe(255);
    expect(limited.stderr).toMatch(/cannot create cgroups in \/sys\/fs\/cgroup\/\S+: permission denied/);
    expect(limited.stderr).toContain(
      version === 1
        ? 'hint: cgroup v1 hierarchies belong to root: run jail as root'
        : 'hint: run as root, or delegate a cgroup to your user and run jail in it: systemd-run --user -p Delegate=yes --scope jail ...',
    );
  });
});
