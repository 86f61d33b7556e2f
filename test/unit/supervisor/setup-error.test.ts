/**
 * The sentence for each way the addon reports a failed setup step ({stage, opIndex, errno}),
 * written from the plan in the user's words.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeSetupFailure } from '../../../src/supervisor/setup-error';
import type { PlannedJail } from '../../../src/sandbox';
import { planned } from './helpers';

const E = { EPERM: 1, ENOENT: 2, EAGAIN: 11, EACCES: 13, ENOTDIR: 20, EINVAL: 22, ENOSPC: 28, EROFS: 30, ENOEXEC: 8, EBUSY: 16 };

const fail = (p: PlannedJail, stage: string, errno: number, opIndex = -1) => describeSetupFailure(p, { stage, opIndex, errno });
const opIndexOf = (p: PlannedJail, pred: (op: PlannedJail['plan']['mounts'][number]) => boolean) => {
  const i = p.plan.mounts.findIndex(pred);
  if (i < 0) throw new Error('no such op in the plan');
  return i;
};

describe('mount failures name the mount entry, the step and the path', () => {
  const p = planned(['-R', '/usr', '-B', '/srv/data:/data', '-T', '/tmp', '-s', '/usr/bin/python3:/bin/py', '--', '/bin/true']);

  it('a bind mount refused with ENOENT', () => {
    const i = opIndexOf(p, (op) => op.op === 'mount' && op.source === '/usr');
    expect(fail(p, 'mount', E.ENOENT, i)).toEqual({
      stage: 'mount',
      errno: 'ENOENT',
      message:
        'mount #1 /usr -> /usr (bind, ro): mount /run/jail-test/root/usr: ENOENT (no such file or directory)\n' +
        '  hint: a path does not exist: check the source on the host and the destination in the jail',
    });
  });

  it('creating a mount point in a read-only parent (EROFS) explains why', () => {
    const i = opIndexOf(p, (op) => op.op === 'mkdirs' && op.path.endsWith('/data'));
    const e = fail(p, 'mount', E.EROFS, i);
    expect(e.message).toMatch(/^mount #2 \/srv\/data -> \/data \(bind, rw\): creating the mount point \/run\/jail-test\/root\/data: EROFS/);
    expect(e.message).toContain('hint: the mount point does not exist and its parent is read-only in the jail');
  });

  it('EPERM on a mount points at user-namespace mount rules; EACCES at directory permissions; ENOTDIR at is_dir', () => {
    const tmpfs = opIndexOf(p, (op) => op.op === 'mount' && op.fstype === 'tmpfs' && op.target.endsWith('/tmp'));
    expect(fail(p, 'mount', E.EPERM, tmpfs).message).toMatch(/^mount #3 tmpfs -> \/tmp \(tmpfs, rw\): mount \/run\/jail-test\/root\/tmp: EPERM .*\n  hint: the kernel refused this mount in a user namespace/);
    const bind = opIndexOf(p, (op) => op.op === 'mount' && op.source === '/srv/data');
    expect(fail(p, 'mount', E.EACCES, bind).message).toContain("hint: the jail's user cannot reach the source");
    expect(fail(p, 'mount', E.ENOTDIR, bind).message).toContain('hint: a file is mounted where a directory is needed');
  });

  it('EPERM on a fresh /proc says what the kernel refuses, and when /proc is masked (a container), the options that lift the masks', () => {
    const q = planned(['--chroot', '/', '--', '/bin/true']);
    const proc = opIndexOf(q, (op) => op.op === 'mount' && op.fstype === 'proc');
    const message = fail(q, 'mount', E.EPERM, proc).message;
    expect(message).toMatch(/^mount #\d+ proc -> \/proc \(proc, ro\): mount \/run\/jail-test\/root\/proc: EPERM/);
    expect(message).not.toContain('only some filesystem types');
    expect(message).toContain('-R /proc');
    expect(message).toContain('--disable_proc');
    // Which of the two it says depends on this machine's /proc: masked paths are named if any.
    const masked = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4]?.startsWith('/proc/'));
    expect(message.includes('systempaths=unconfined')).toBe(masked);
  });

  it('a symlink, and steps of no entry (root tmpfs, pivot_root) are described by what they do', () => {
    const link = opIndexOf(p, (op) => op.op === 'symlink');
    expect(fail(p, 'mount', E.EROFS, link).message).toMatch(/^mount #4 \/usr\/bin\/python3 -> \/bin\/py \(symlink, ro\): creating the symlink \/run\/jail-test\/root\/bin\/py: EROFS/);
    expect(fail(p, 'mount', E.EPERM, 1).message).toMatch(/^mount \/run\/jail-test\/root: EPERM/);
    const pivot = opIndexOf(p, (op) => op.op === 'pivot');
    expect(fail(p, 'mount', E.EINVAL, pivot).message).toBe('pivot_root into the new root /run/jail-test/root: EINVAL (invalid argument)');
    const ro = opIndexOf(p, (op) => op.op === 'remount' && op.ref === null);
    expect(fail(p, 'mount', E.EBUSY, ro).message).toBe('remounting /run/jail-test/root: EBUSY (resource busy or locked)');
  });

  it('--no_pivotroot and a no-mount-namespace chroot', () => {
    const q = planned(['--no_pivotroot', '--chroot', '/', '--', '/bin/true']);
    expect(fail(q, 'mount', E.EINVAL, opIndexOf(q, (op) => op.op === 'moveRoot')).message).toMatch(/^moving the new root \(--no_pivotroot\) \/run\/jail-test\/root: EINVAL/);
    const r = planned(['--disable_clone_newns', '--chroot', '/srv/data', '--', '/bin/true']);
    expect(fail(r, 'mount', E.ENOENT, 0).message).toMatch(/^chroot \/srv\/data: chroot \/srv\/data: ENOENT/);
  });

  it('an opIndex outside the plan still gives a sentence', () => {
    expect(fail(p, 'mount', E.ENOENT, 999).message).toMatch(/^mount step 999: ENOENT/);
  });
});

describe('execve', () => {
  it('ENOENT with an empty root says to add --chroot / or mount the program', () => {
    const p = planned(['--disable_proc', '--', '/bin/true']);
    expect(p.mounts).toEqual([]); // nothing is mounted into the jail's root
    expect(fail(p, 'execve', E.ENOENT).message).toBe(
      "execve '/bin/true' inside the jail: ENOENT (no such file or directory)\n" +
        "  hint: the jail's root is an empty tmpfs: add --chroot / or mount the program and its libraries (-R /usr -R /lib ...)",
    );
  });

  it('ENOENT with mounts says the program or its libraries are not visible', () => {
    const p = planned(['-R', '/usr', '--', '/usr/bin/python3']);
    expect(fail(p, 'execve', E.ENOENT).message).toBe(
      "execve '/usr/bin/python3' inside the jail: ENOENT (no such file or directory)\n" +
        '  hint: the program (or its interpreter or libraries) is not visible inside the jail: mount the directories it needs',
    );
  });

  it('EACCES and ENOEXEC have their own hints; other errnos none', () => {
    const p = planned(['--chroot', '/', '--', '/bin/true']);
    expect(fail(p, 'execve', E.EACCES).message).toContain('hint: the file is not executable by the jail user, or sits on a noexec mount');
    expect(fail(p, 'execve', E.ENOEXEC).message).toContain('hint: the file is not a binary the kernel can run');
    expect(fail(p, 'execve', E.EAGAIN).message).toBe("execve '/bin/true' inside the jail: EAGAIN (resource temporarily unavailable)");
  });
});

describe('the other stages', () => {
  const p = planned(['-D', '/work', '-H', 'box', '--chroot', '/', '--', '/bin/true']);

  it('idmap names the file that was refused', () => {
    const names = ['setgroups', 'gid_map', 'uid_map', 'newgidmap', 'newuidmap'];
    names.forEach((name, i) => expect(fail(p, 'idmap', E.EINVAL, i).message).toMatch(new RegExp(`^writing the user namespace id maps \\(${name}\\): EINVAL`)));
    expect(fail(p, 'idmap', E.EPERM, 2).message).toContain('hint: unprivileged users may map only their own uid/gid');
  });

  it('clone: EPERM, EINVAL and ENOSPC hint at disabled user namespaces; EAGAIN does not', () => {
    for (const errno of [E.EPERM, E.EINVAL, E.ENOSPC]) {
      const m = fail(p, 'clone', errno).message;
      expect(m).toMatch(/^clone of the jail process: E[A-Z]+ \(/);
      expect(m).toContain('user.max_user_namespaces');
      expect(m).toContain('kernel.apparmor_restrict_unprivileged_userns');
    }
    expect(fail(p, 'clone', E.EAGAIN).message).toBe('clone of the jail process: EAGAIN (resource temporarily unavailable)');
  });

  it('chdir names the working directory', () => {
    expect(fail(p, 'chdir', E.ENOENT)).toEqual({
      stage: 'chdir',
      errno: 'ENOENT',
      message:
        "chdir to the working directory '/work' inside the jail: ENOENT (no such file or directory)\n" +
        '  hint: the directory must exist inside the jail (mount it, or pick another --cwd)',
    });
  });

  it('rlimit names the limit and the value', () => {
    const i = p.plan.rlimits.findIndex((r) => r.resource === 7);
    const m = fail(p, 'rlimit', E.EPERM, i).message;
    expect(m).toMatch(/rlimit/);
    expect(m).toContain(' to 32');
    expect(m).toMatch(/: EPERM \(operation not permitted\)$/);
    expect(fail(p, 'rlimit', E.EPERM, 99).message).toMatch(/^setting the rlimits: EPERM/);
  });

  it('caps names the capability number and hints at --cap', () => {
    expect(fail(p, 'caps', E.EPERM, 21).message).toBe(
      'dropping capabilities (capability 21): EPERM (operation not permitted)\n  hint: a capability listed with --cap is not held by the jail process',
    );
    expect(fail(p, 'caps', E.EINVAL, -1).message).toBe('dropping capabilities: EINVAL (invalid argument)');
  });

  it('cgroup names the file it wrote', () => {
    const withCgroup: PlannedJail = {
      ...p,
      plan: { ...p.plan, cgroup: { version: 2, dirs: [], setup: [], attach: [{ path: '/sys/fs/cgroup/jail/j1/cgroup.procs', content: '{pid}' }], cloneInto: null } },
    };
    expect(fail(withCgroup, 'cgroup', E.EBUSY, 0).message).toBe('adding the jail to its cgroup (/sys/fs/cgroup/jail/j1/cgroup.procs): EBUSY (resource busy or locked)');
    expect(fail(p, 'cgroup', E.EBUSY, 0).message).toMatch(/^adding the jail to its cgroup \(cgroup file\): EBUSY/);
  });

  it('hostname, seccomp, and stages without a sentence of their own', () => {
    expect(fail(p, 'hostname', E.EINVAL).message).toBe("sethostname('box'): EINVAL (invalid argument)");
    expect(fail(p, 'seccomp', E.EINVAL).message).toBe('installing the seccomp filter: EINVAL (invalid argument)');
    expect(fail(p, 'setid', E.EINVAL).message).toMatch(/setid.*: EINVAL \(invalid argument\)/);
    expect(fail(p, 'no_new_privs', E.EINVAL)).toMatchObject({ stage: 'no_new_privs', errno: 'EINVAL' });
  });

  it('an errno Node does not know is printed as a number', () => {
    expect(fail(p, 'chdir', 4000)).toMatchObject({ errno: 'errno 4000' });
    expect(fail(p, 'chdir', 4000).message).toMatch(/: errno 4000\n/);
  });
});
