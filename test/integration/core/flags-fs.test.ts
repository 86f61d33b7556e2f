/**
 * Filesystem and namespace flags, checked by the probe inside the jail and by looking at the
 * host afterwards: -D, -R, -B, -T, -m, -s, --rw, --disable_proc, --proc_path, --proc_rw,
 * --no_pivotroot, every --disable_clone_new*, -N.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { planJail } from '../../../src/index';
import { nsLinks, parseFlags, parseProbe, probeDir, probePath, runFlags, runProbe, runProbeMinimal, tempDir, type Probe } from './helpers';

const CHROOT = ['--chroot', '/'];

const mountAt = (probe: Probe, mp: string): Probe | undefined => {
  const all = (probe.mounts as Probe[]).filter((m) => m.mountpoint === mp);
  return all[all.length - 1];
};
const optsOf = (m: Probe | undefined): string[] => String(m?.options ?? '').split(',');

describeAsRoot('mount flags', () => {
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(() => {
    probePath();
    tmp = tempDir();
  });
  afterAll(() => tmp?.remove());

  it('the minimal jail root is a read-only tmpfs holding only the listed mounts', async () => {
    const { probe } = await runProbeMinimal([], ['mounts', 'path:/', 'path:/probe', 'path:/usr', 'path:/etc']);
    expect(mountAt(probe, '/')!.fstype).toBe('tmpfs');
    expect(optsOf(mountAt(probe, '/'))).toContain('ro');
    expect((probe.mounts as Probe[]).map((m) => m.mountpoint).sort()).toEqual(['/', '/probe', '/proc']);
    expect(probe.paths['/'].writeErrno).toBe('EROFS');
    expect(probe.paths['/usr'].exists).toBe(false);
    expect(probe.paths['/etc'].exists).toBe(false);
  });

  it('-R src:dst is a read-only bind showing the host files', async () => {
    const dir = fs.mkdtempSync(path.join(tmp.dir, 'ro-'));
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'file'), 'x'.repeat(1234));
    const { probe } = await runProbeMinimal(['-R', `${dir}:/data`], ['mounts', 'path:/data', 'path:/data/file']);
    expect(mountAt(probe, '/data')!.root).toBe(dir);
    expect(optsOf(mountAt(probe, '/data'))).toContain('ro');
    expect(probe.paths['/data/file'].size).toBe(1234);
    expect(probe.paths['/data'].writeErrno).toBe('EROFS');
    expect(probe.paths['/data/file'].writeErrno).toBe('EROFS');
  });

  it('-R src (no dst) binds at the same path', async () => {
    const dir = fs.mkdtempSync(path.join(tmp.dir, 'same-'));
    fs.chmodSync(dir, 0o755);
    const { probe } = await runProbeMinimal(['-R', dir], ['mounts', `path:${dir}`]);
    expect(probe.paths[dir].type).toBe('dir');
    expect(mountAt(probe, dir)!.root).toBe(dir);
  });

  it('-B src:dst is writable and the writes reach the host', async () => {
    const dir = fs.mkdtempSync(path.join(tmp.dir, 'rw-'));
    fs.chmodSync(dir, 0o755);
    const { probe, result } = await runProbeMinimal(['-B', `${dir}:/out`], ['mounts', 'path:/out', 'write:/out/written:4321']);
    expect(result.exitCode).toBe(0);
    expect(optsOf(mountAt(probe, '/out'))).toContain('rw');
    expect(probe.paths['/out'].writable).toBe(true);
    expect(probe.write.errno).toBeNull();
    expect(fs.statSync(path.join(dir, 'written')).size).toBe(4321);
  });

  it('-T dst is a 4 MiB writable tmpfs, and what is written there stays in the jail', async () => {
    const { probe } = await runProbeMinimal(['-T', '/scratch'], ['mounts', 'path:/scratch', 'write:/scratch/f:100000']);
    const m = mountAt(probe, '/scratch')!;
    expect(m.fstype).toBe('tmpfs');
    expect(optsOf(m)).toContain('rw');
    expect(optsOf(m)).toContain('size=4096k');
    expect(probe.paths['/scratch'].writable).toBe(true);
    expect(probe.write.written).toBe(100000);
    // A write larger than 4 MiB fails with ENOSPC (rlimit fsize lifted so the tmpfs size is what stops it).
    const big = await runProbeMinimal(['-T', '/scratch', '--rlimit_fsize', 'inf'], ['none', 'write:/scratch/f:6000000']);
    expect(big.probe.write.errno).toBe('ENOSPC');
  });

  it('-m src:dst:fstype:options mounts that filesystem with those options', async () => {
    const { probe } = await runProbeMinimal(['-m', 'none:/big:tmpfs:size=8388608'], ['mounts', 'path:/big']);
    const m = mountAt(probe, '/big')!;
    expect(m.fstype).toBe('tmpfs');
    expect(optsOf(m)).toContain('size=8192k');
    expect(optsOf(m)).toContain('rw');
    expect(probe.paths['/big'].writable).toBe(true);
  });

  it('-s target:linkpath creates a symlink in the jail', async () => {
    const { probe } = await runProbeMinimal(['-s', '/probe/probe:/bin/probe-link'], ['none', 'path:/bin/probe-link']);
    expect(probe.paths['/bin/probe-link'].type).toBe('symlink');
    expect(probe.paths['/bin/probe-link'].target).toBe('/probe/probe');
    // and the program can be started through it
    const viaLink = await runFlags(['-R', `${probeDir()}:/probe`, '-s', '/probe/probe:/bin/probe-link'], ['/bin/probe-link', 'none']);
    expect(viaLink.exitCode).toBe(0);
    expect(viaLink.stdout).toContain('"probe":1');
  });

  it('--rw makes the minimal root tmpfs writable', async () => {
    const { probe } = await runProbeMinimal(['--rw'], ['mounts', 'path:/', 'write:/newfile:10']);
    expect(optsOf(mountAt(probe, '/'))).toContain('rw');
    expect(probe.paths['/'].writable).toBe(true);
    expect(probe.write.written).toBe(10);
  });

  it('--chroot DIR --rw writes reach DIR on the host; without --rw the chroot is read-only', async () => {
    const root = fs.mkdtempSync(path.join(tmp.dir, 'chroot-'));
    fs.chmodSync(root, 0o755);
    // Mount points must exist: a read-only chroot cannot get new directories (see setup-failures).
    fs.mkdirSync(path.join(root, 'probe'));
    fs.mkdirSync(path.join(root, 'proc'));
    const ro = await runFlags(['--chroot', root, '-R', `${probeDir()}:/probe`], ['/probe/probe', 'none', 'write:/created:5']);
    expect(ro.exitCode).toBe(0);
    expect(parseProbe(ro.stdout).write.errno).toBe('EROFS');
    expect(fs.existsSync(path.join(root, 'created'))).toBe(false);
    const rw = await runFlags(['--chroot', root, '--rw', '-R', `${probeDir()}:/probe`], ['/probe/probe', 'none', 'write:/created:5']);
    expect(rw.exitCode).toBe(0);
    expect(fs.statSync(path.join(root, 'created')).size).toBe(5);
  });

  it('--disable_proc: no /proc at all in a minimal jail', async () => {
    const { probe } = await runProbeMinimal(['--disable_proc'], ['mounts', 'path:/proc']);
    expect(probe.procMounted).toBe(false);
    expect(probe.paths['/proc'].exists).toBe(false);
  });

  it('--proc_path puts the fresh /proc elsewhere', async () => {
    const { probe } = await runProbeMinimal(['--proc_path', '/myproc'], ['none', 'path:/myproc/self/status', 'path:/proc', 'path:/myproc/2']);
    expect(probe.paths['/myproc/self/status'].type).toBe('file');
    expect(probe.paths['/proc'].exists).toBe(false);
    // It is the jail's procfs: only pid 1 (the probe) and the check's own child exist.
    expect(probe.paths['/myproc/2'].exists).toBe(false);
  });

  it('--proc_rw mounts /proc read-write (still nosuid,nodev,noexec)', async () => {
    const { probe } = await runProbeMinimal(['--proc_rw'], ['mounts', 'path:/proc/sys/kernel/hostname']);
    const m = mountAt(probe, '/proc')!;
    expect(optsOf(m)).toContain('rw');
    for (const o of ['nosuid', 'nodev', 'noexec']) expect(optsOf(m)).toContain(o);
    expect(probe.paths['/proc/sys/kernel/hostname'].writable).toBe(true);
    const ro = await runProbeMinimal([], ['none', 'path:/proc/sys/kernel/hostname']);
    expect(ro.probe.paths['/proc/sys/kernel/hostname'].writable).toBe(false);
  });

  it('-D/--cwd sets the working directory', async () => {
    const { probe } = await runProbeMinimal(['-D', '/probe'], ['cwd']);
    expect(probe.cwd).toBe('/probe');
    const long = await runProbe([...CHROOT, '--cwd', '/usr/lib'], ['cwd']);
    expect(long.probe.cwd).toBe('/usr/lib');
  });

  it('--no_pivotroot switches root with MS_MOVE + chroot: the jail still sees only its mounts, and a warning is logged', async () => {
    const { probe, result } = await runProbeMinimal(['--no_pivotroot'], ['mounts', 'path:/usr', 'syscall:chroot']);
    expect(result.exitCode).toBe(0);
    expect((probe.mounts as Probe[]).map((m) => m.mountpoint).sort()).toEqual(['/', '/probe', '/proc']);
    expect(probe.paths['/usr'].exists).toBe(false);
    expect(probe.syscalls.chroot.errno).toBe('EPERM');
    expect(result.logs.some((l) => l.startsWith('warn') && /no_pivotroot/.test(l))).toBe(true);
    const { config, command } = parseFlags(['-R', `${probeDir()}:/probe`, '--no_pivotroot', '--', '/probe/probe']);
    const ops = planJail({ config, command }).plan.mounts.map((o) => o.op);
    expect(ops).toContain('moveRoot');
    expect(ops).not.toContain('pivot');
  });
});

describeAsRoot('namespace flags', () => {
  const host = nsLinks('self');
  beforeAll(() => void probePath());

  it('-N / --disable_clone_newnet shares the host network namespace', async () => {
    const { probe } = await runProbe([...CHROOT, '--disable_clone_newnet'], ['ns', 'net']);
    expect(probe.ns.net).toBe(host.net);
    const hostIfaces = fs.readdirSync('/sys/class/net').sort();
    expect((probe.net as Probe[]).map((i) => i.name).sort()).toEqual(hostIfaces);
    const short = await runProbe([...CHROOT, '-N'], ['ns']);
    expect(short.probe.ns.net).toBe(host.net);
  });

  it('--disable_clone_newuser: the host user namespace, real root ids', async () => {
    const { probe } = await runProbe([...CHROOT, '--disable_clone_newuser'], ['ns', 'ids', 'userns']);
    expect(probe.ns.user).toBe(host.user);
    expect(probe.uid).toBe(0);
    expect(probe.userns.uidMap.trim().split(/\s+/)).toEqual(['0', '0', '4294967295']);
    expect(probe.ns.mnt).not.toBe(host.mnt);
  });

  it('--disable_clone_newns: the host mount namespace (only --chroot applied)', async () => {
    const { probe } = await runProbe([...CHROOT, '--disable_clone_newns'], ['ns']);
    expect(probe.ns.mnt).toBe(host.mnt);
    expect(probe.ns.pid).not.toBe(host.pid);
  });

  it('--disable_clone_newpid (with --disable_proc): the host pid namespace, not pid 1', async () => {
    const { probe } = await runProbe([...CHROOT, '--disable_clone_newpid', '--disable_proc'], ['ns', 'ids']);
    expect(probe.ns.pid).toBe(host.pid);
    expect(probe.pid).not.toBe(1);
    expect(probe.pid).toBeGreaterThan(1);
  });

  it('--disable_clone_newpid with the default /proc mount is refused (nsjail fails at setup), naming /proc', async () => {
    // Either refused while planning (an error before launch) or failed while mounting (setup-failed).
    const outcome = await runFlags([...CHROOT, '--disable_clone_newpid'], [probePath(), 'none']).then(
      (r) => ({ failed: r.outcome === 'setup-failed' && r.exitCode === 255, message: r.error?.message ?? '' }),
      (e: Error) => ({ failed: true, message: e.message }),
    );
    expect(outcome.failed).toBe(true);
    expect(outcome.message).toMatch(/\/proc/);
  });

  it('--disable_clone_newipc shares the host IPC namespace', async () => {
    const { probe } = await runProbe([...CHROOT, '--disable_clone_newipc'], ['ns']);
    expect(probe.ns.ipc).toBe(host.ipc);
    expect(probe.ns.uts).not.toBe(host.uts);
  });

  it('--disable_clone_newuts shares the host UTS namespace: the hostname is the host one', async () => {
    const { probe } = await runProbe([...CHROOT, '--disable_clone_newuts', '-H', 'ignored'], ['ns', 'hostname']);
    expect(probe.ns.uts).toBe(host.uts);
    expect(probe.hostname).toBe(os.hostname());
  });

  it('--disable_clone_newcgroup shares the host cgroup namespace', async () => {
    const { probe } = await runProbe([...CHROOT, '--disable_clone_newcgroup'], ['ns']);
    expect(probe.ns.cgroup).toBe(host.cgroup);
    expect(probe.ns.ipc).not.toBe(host.ipc);
  });

  it('--iface_no_lo leaves lo down; loopback connections then fail', async () => {
    const { probe } = await runProbe([...CHROOT, '--iface_no_lo'], ['net', 'listen:0']);
    expect((probe.net as Probe[]).map((i) => i.name)).toEqual(['lo']);
    expect(probe.net[0].up).toBe(false);
    expect(probe.listen.ok).toBe(false);
  });

  it('by default loopback works: listen on 127.0.0.1 and connect to it', async () => {
    const { probe } = await runProbe(CHROOT, ['none', 'listen:0']);
    expect(probe.listen.ok).toBe(true);
    expect(probe.listen.errno).toBeNull();
  });

  it('by default nothing but loopback is reachable: connect to a public address fails at once', async () => {
    const { probe } = await runProbe(CHROOT, ['none', 'connect:192.0.2.1:80']);
    expect(probe.connect['192.0.2.1:80'].ok).toBe(false);
    expect(probe.connect['192.0.2.1:80'].errno).toBe('ENETUNREACH');
  });
});
