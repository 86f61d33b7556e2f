/**
 * The planner (Config -> JailPlan) against pinned host facts. Whole plans are compared as golden
 * JSON files under golden/ (review a changed golden like code: it is exactly what the jail will
 * do to the kernel); smaller properties are asserted directly.
 *
 * To regenerate after an intended change: `npx vitest run --project unit test/unit/sandbox -u`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromObject, parseConfigJson, parseConfigText } from '../../../src/config/load';
import type { LoadedConfig } from '../../../src/config/types';
import { compilePolicy } from '../../../src/policy';
import { buildPlan, type PlannedJail } from '../../../src/sandbox';
import {
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  MS_BIND,
  MS_REC,
  RLIMIT,
} from '../../../src/sandbox/kernel';
import type { Filter } from '../../../src/policy/types';
import '../../helpers/lazy-require';
import { fromFlags, ID_FILES } from '../../helpers/config';
import { thrown } from '../../helpers/thrown';
import { FAKE_ENV, fakeHost, type FakeHostOptions } from '../../helpers/fake-host';

const ROOT = join(__dirname, '..', '..', '..');
const golden = (name: string) => join(__dirname, 'golden', `${name}.json`);
const json = (p: PlannedJail) => JSON.stringify(p, null, 2) + '\n';

function planFlags(argv: string[], host: FakeHostOptions = {}, env = FAKE_ENV, filter: Filter | null = null): PlannedJail {
  const { loaded, command } = fromFlags(argv);
  return buildPlan(loaded, { command, env, filter, host: fakeHost(host) });
}

function planConfig(loaded: LoadedConfig, command: string[], host: FakeHostOptions = {}, env = FAKE_ENV): PlannedJail {
  return buildPlan(loaded, { command, env, filter: null, host: fakeHost(host) });
}



const ALL_NS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

describe('golden plans', () => {
  it('nsjail CLI defaults with --chroot / (root)', async () => {
    const p = planFlags(['--chroot', '/', '--', '/bin/true']);
    await expect(json(p)).toMatchFileSnapshot(golden('cli-defaults-chroot-root'));
    // The points of nsjail's defaults that matter most, spelled out so a golden update that
    // breaks them is noticed even when the golden is regenerated carelessly.
    expect(p.plan.cloneFlags).toBe(ALL_NS);
    expect(p.plan.hostname).toBe('NSJAIL');
    expect(p.plan.exec).toEqual({ path: '/bin/true', argv: ['/bin/true'], envp: [] });
    expect(p.plan.noNewPrivs).toBe(true);
    expect(p.plan.caps).toEqual({ keepAll: false, keep: [], drop: [] });
    expect(p.plan.setsid).toBe(true);
    expect(p.plan.mounts.at(-2)).toMatchObject({ op: 'pivot' });
    expect(p.plan.mounts.at(-1)).toMatchObject({ op: 'remount', target: '/proc', flags: 0xf }); // ro nosuid nodev noexec
    const rl = Object.fromEntries(p.plan.rlimits.map((r) => [r.resource, r.cur]));
    expect(rl[RLIMIT.as]).toBe(String(4096 * 1024 * 1024));
    expect(rl[RLIMIT.cpu]).toBe('600');
    expect(rl[RLIMIT.fsize]).toBe(String(1024 * 1024));
    expect(rl[RLIMIT.nofile]).toBe('32');
    expect(rl[RLIMIT.core]).toBe('0');
    expect(rl[RLIMIT.stack]).toBe('8388608'); // the caller's soft limit
    expect(p.plan.rlimits.every((r) => r.cur === r.max)).toBe(true);
  });

  it('the python-playground example (text and JSON give the same plan)', async () => {
    const text = parseConfigText(readFileSync(join(ROOT, 'examples/python-playground.cfg'), 'utf8'), 'python-playground.cfg', { idFiles: ID_FILES });
    const p = planConfig(text, ['python3', 'hello.py'], { cgroups: 'v2' });
    // The cgroup part is the cgroup planner's (and its tests'); here only that the limit is there.
    const cgroup = p.plan.cgroup;
    expect(JSON.stringify(cgroup)).toMatch(/memory\.max","content":"1073741824"/);
    await expect(json({ ...p, plan: { ...p.plan, cgroup: '(see the cgroup tests)' as never } })).toMatchFileSnapshot(golden('python-playground'));
    const fromJson = parseConfigJson(readFileSync(join(ROOT, 'examples/python-playground.json'), 'utf8'), 'python-playground.json', { idFiles: ID_FILES });
    const q = planConfig(fromJson, ['python3', 'hello.py'], { cgroups: 'v2' });
    expect({ ...q.plan, cgroup: null }).toEqual({ ...p.plan, cgroup: null });
    expect(q.warnings).toEqual(p.warnings);
    expect(p.plan.exec.path).toBe('/usr/bin/python3');
    expect(p.plan.exec.envp).toEqual(['HOME=/data', 'PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8', 'PYTHONDONTWRITEBYTECODE=1']);
    // Optional pass-throughs the caller lacks are skipped without a warning.
    expect(p.unsetEnv).toEqual(['WANDB_API_KEY', 'HF_DATASETS_CACHE', 'HF_HOME', 'HF_TOKEN']);
    expect(p.warnings.filter((w) => w.includes('environment'))).toEqual([]);
  });

  it('every mount kind', async () => {
    const cfg = parseConfigText(
      [
        'mount { src: "/usr" dst: "/usr" is_bind: true }',
        'mount { src: "/srv/data" dst: "/data" is_bind: true rw: true }',
        'mount { src: "/etc/resolv.conf" dst: "/etc/resolv.conf" is_bind: true }',
        'mount { dst: "/tmp" fstype: "tmpfs" options: "size=1048576" rw: true nosuid: true nodev: true }',
        'mount { dst: "/scratch" fstype: "tmpfs" }',
        'mount { dst: "/proc2" fstype: "proc" }',
        'mount { src: "/usr/bin/python3" dst: "/bin/py" is_symlink: true }',
        'mount { src_content: "hello\\n" dst: "/etc/motd" }',
        'mount { src_content: "x" dst: "/etc/writable" rw: true }',
        'mount { src: "/opt/missing" dst: "/opt" is_bind: true mandatory: false }',
        'mount { prefix_src_env: "PWD" src: "/examples" dst: "/code" is_bind: true }',
        'mount { dst: "/file-tmpfs" fstype: "tmpfs" is_dir: false }',
        'mount_proc: true',
        'cwd: "/data"',
      ].join('\n'),
      'mounts.cfg',
      { idFiles: ID_FILES },
    );
    const p = planConfig(cfg, ['/bin/true']);
    await expect(json(p)).toMatchFileSnapshot(golden('every-mount-kind'));
    expect(p.warnings).toContain('mount #10 /opt/missing -> /opt (bind, ro): skipped, the source does not exist (mandatory: false)');
    expect(p.plan.mounts.some((m) => 'source' in m && m.source === '/opt/missing')).toBe(false);
    // prefix_src_env is read from the caller's environment
    expect(p.plan.mounts).toContainEqual(expect.objectContaining({ op: 'mount', source: '/home/alice/project/examples', flags: MS_BIND | MS_REC }));
    // each op points back at its mount entry, and every entry is described
    expect(p.mounts.map((m) => m.describe)).toHaveLength(13);
    for (const op of p.plan.mounts) if (op.ref !== null) expect(p.mounts[op.ref]).toBeDefined();
  });

  it('unprivileged (euid 1000): own ids only, setgroups denied', async () => {
    const p = planFlags(['--chroot', '/', '--', '/bin/true'], { euid: 1000 });
    await expect(json(p)).toMatchFileSnapshot(golden('unprivileged-1000'));
    expect(p.plan.idmap).toEqual({ uidMap: '1000 1000 1', gidMap: '1000 1000 1', setgroups: 'deny', newuidmap: null, newgidmap: null });
    expect(p.plan.uid).toBe(1000);
    expect(p.plan.rootDir).toBe('/run/jail-test/root');
  });

  it('root with -u/-g: any host id, setgroups left alone', async () => {
    const p = planFlags(['-u', '65534:65534', '-g', '65534:65534', '-g', '100:100:10', '--chroot', '/', '--', '/bin/true']);
    await expect(json(p)).toMatchFileSnapshot(golden('root-idmap'));
    expect(p.plan.idmap).toEqual({ uidMap: '65534 65534 1', gidMap: '65534 65534 1\n100 100 10', setgroups: '', newuidmap: null, newgidmap: null });
    expect([p.plan.uid, p.plan.gid, p.plan.groups]).toEqual([65534, 65534, []]);
    expect(p.warnings).toEqual([]);
  });

  it('-u ID alone maps ID to the caller (nsjail: an empty outside id is the caller), so as root it is host root', () => {
    const p = planFlags(['-u', '65534', '-g', 'nogroup', '--', '/bin/true']);
    expect(p.plan.idmap.uidMap).toBe('65534 0 1');
    expect(p.plan.idmap.gidMap).toBe('65534 0 1');
    expect(p.warnings).toEqual([
      'the jailed process runs as uid 65534, which is uid 0 (root) in the host user namespace',
      'the jailed process runs as gid 65534, which is gid 0 (root) in the host user namespace',
    ]);
  });

  it('newuidmap/newgidmap maps (-U/-G) as an ordinary user', async () => {
    const p = planFlags(['-U', '0:1000:1', '-U', '1:100000:65536', '-G', '0:1000:1', '-G', '1:100000:65536', '--chroot', '/', '--', '/bin/true'], { euid: 1000 });
    await expect(json(p)).toMatchFileSnapshot(golden('newidmap'));
    expect(p.plan.idmap).toEqual({
      uidMap: '',
      gidMap: '',
      setgroups: '',
      newuidmap: ['/usr/bin/newuidmap', '0', '1000', '1', '1', '100000', '65536'],
      newgidmap: ['/usr/bin/newgidmap', '0', '1000', '1', '1', '100000', '65536'],
    });
    expect(p.plan.uid).toBe(0);
    expect(p.warnings).toEqual([]); // inside 0 is host 1000, not root
  });

  it('--disable_clone_newuser as root: no maps, extra gids become supplementary groups', async () => {
    const p = planFlags(['--disable_clone_newuser', '-u', '1000', '-g', '1000', '-g', '27', '-g', '100', '--chroot', '/', '--', '/bin/true']);
    await expect(json(p)).toMatchFileSnapshot(golden('no-userns-root'));
    expect(p.plan.cloneFlags & CLONE_NEWUSER).toBe(0);
    expect(p.plan.idmap).toEqual({ uidMap: '', gidMap: '', setgroups: '', newuidmap: null, newgidmap: null });
    expect([p.plan.uid, p.plan.gid, p.plan.groups]).toEqual([1000, 1000, [27, 100]]);
  });

  it('--no_pivotroot: MS_MOVE + chroot, with a warning', async () => {
    const p = planFlags(['--no_pivotroot', '--chroot', '/', '--', '/bin/true']);
    await expect(json(p)).toMatchFileSnapshot(golden('no-pivotroot'));
    expect(p.plan.mounts.some((m) => m.op === 'pivot')).toBe(false);
    expect(p.plan.mounts.filter((m) => m.op === 'moveRoot')).toEqual([{ op: 'moveRoot', newRoot: '/run/jail-test/root', ref: null, optional: false }]);
    expect(p.warnings.some((w) => w.includes('--no_pivotroot'))).toBe(true);
  });

  it('--disable_clone_newns without mounts: a plain chroot, /proc skipped', async () => {
    const p = planFlags(['--disable_clone_newns', '--chroot', '/', '--', '/bin/true']);
    await expect(json(p)).toMatchFileSnapshot(golden('no-mountns'));
    expect(p.plan.mounts).toEqual([{ op: 'chroot', path: '/', ref: 0, optional: false }]);
    expect(p.plan.rootDir).toBe('');
    expect(p.plan.cloneFlags & CLONE_NEWNS).toBe(0);
  });

  it('a seccomp filter is carried instruction by instruction, with SECCOMP_FILTER_FLAG_LOG for --seccomp_log', async () => {
    const filter = compilePolicy('ERRNO(1) { newuname } DEFAULT ALLOW', { archs: ['x86_64'] });
    const p = planFlags(['--seccomp_log', '--chroot', '/', '--', '/bin/true'], {}, FAKE_ENV, filter);
    await expect(json(p)).toMatchFileSnapshot(golden('seccomp'));
    expect(p.plan.seccomp!.insns).toEqual(filter.insns.map((i) => [i.code, i.jt, i.jf, i.k]));
    expect(p.plan.seccomp!.flags).toBe(2);
    expect(planFlags(['--chroot', '/', '--', '/bin/true'], {}, FAKE_ENV, filter).plan.seccomp!.flags).toBe(0);
    expect(planFlags(['--chroot', '/', '--', '/bin/true']).plan.seccomp).toBeNull();
  });
});

describe('ids', () => {
  it('an unprivileged user cannot map another host id, or more than one id, without newuidmap', () => {
    const other = thrown(() => planFlags(['-u', '0:0', '--', '/bin/true'], { euid: 1000 }));
    // Values from flags are reported against the flag that set them.
    expect(other.code).toBe('flag');
    expect(other.message).toBe("flag --user: an unprivileged user can map only its own id 1000 (count 1), got '0 0 1'");
    const range = thrown(() => planFlags(['-g', '0:1000:5', '--', '/bin/true'], { euid: 1000 }));
    expect(range.message).toContain('flag --group: an unprivileged user can map only its own id 1000');
    const two = thrown(() => planFlags(['-u', '0', '-u', '1', '--', '/bin/true'], { euid: 1000 }));
    expect(two.message).toContain("got '1 1000 1'");
  });

  it('maps the caller to uid 0 inside without complaint when unprivileged (not host root)', () => {
    const p = planFlags(['-u', '0', '-g', '0', '--', '/bin/true'], { euid: 1000 });
    expect(p.plan.idmap.uidMap).toBe('0 1000 1');
    expect(p.plan.idmap.gidMap).toBe('0 1000 1');
    expect(p.warnings).toEqual([]);
  });

  it('warns when the jailed uid/gid is host root, as nsjail does', () => {
    const p = planFlags(['--', '/bin/true']);
    expect(p.warnings).toEqual([
      'the jailed process runs as uid 0, which is uid 0 (root) in the host user namespace',
      'the jailed process runs as gid 0, which is gid 0 (root) in the host user namespace',
    ]);
    // Inside ids are offsets into a range: uid 5 of "5 0 10" is host 0, uid 7 of "5 2 10" is host 4.
    const q = planFlags(['-u', '5:0:10', '-g', '7:2:10', '--', '/bin/true']);
    expect(q.plan.uid).toBe(5);
    expect(q.warnings).toEqual(['the jailed process runs as uid 5, which is uid 0 (root) in the host user namespace']);
    const r = planFlags(['-u', '3:0:10', '--', '/bin/true']);
    expect(r.warnings.filter((w) => w.includes('uid 3'))).toEqual(['the jailed process runs as uid 3, which is uid 0 (root) in the host user namespace']);
  });

  it('--disable_clone_newuser as an ordinary user is an error', () => {
    const e = thrown(() => planFlags(['--disable_clone_newuser', '--', '/bin/true'], { euid: 1000 }));
    expect(e.code).toBe('flag');
    expect(e.message).toContain('clone_newuser is off, which needs root');
    expect(e.hint).toContain('--disable_clone_newuser');
  });
});

describe('rlimits', () => {
  const rl = (p: PlannedJail, name: keyof typeof RLIMIT) => p.plan.rlimits.find((r) => r.resource === RLIMIT[name]);

  it('each type word: inf, soft/def, hard/max, and numbers in their units', () => {
    const p = planFlags([
      '--rlimit_as', 'inf',
      '--rlimit_core', 'soft',
      '--rlimit_cpu', 'hard',
      '--rlimit_nofile', 'def',
      '--rlimit_nproc', 'max',
      '--rlimit_fsize', '3',
      '--rlimit_stack', '16',
      '--rlimit_memlock', '128',
      '--rlimit_msgqueue', '4096',
      '--rlimit_rtprio', '0',
      '--', '/bin/true',
    ]);
    expect(rl(p, 'as')).toEqual({ resource: 9, cur: 'infinity', max: 'infinity' });
    expect(rl(p, 'core')).toEqual({ resource: 4, cur: '0', max: '0' }); // soft of the fake host
    expect(rl(p, 'cpu')).toEqual({ resource: 0, cur: 'infinity', max: 'infinity' }); // hard
    expect(rl(p, 'nofile')).toEqual({ resource: 7, cur: '1024', max: '1024' }); // def = soft
    expect(rl(p, 'nproc')).toEqual({ resource: 6, cur: '63432', max: '63432' }); // max = hard
    expect(rl(p, 'fsize')!.cur).toBe(String(3 * 1024 * 1024)); // MiB
    expect(rl(p, 'stack')!.cur).toBe(String(16 * 1024 * 1024)); // MiB
    expect(rl(p, 'memlock')!.cur).toBe(String(128 * 1024)); // KiB
    expect(rl(p, 'msgqueue')!.cur).toBe('4096'); // bytes
    expect(rl(p, 'rtprio')!.cur).toBe('0');
    expect(p.plan.rlimits.map((r) => r.resource)).toEqual([0, 1, 3, 4, 6, 7, 8, 9, 12, 14]);
  });

  it('a value above the hard limit is refused in a user namespace, even as root', () => {
    for (const euid of [0, 1000]) {
      const e = thrown(() => planFlags(['--rlimit_nofile', '1000000', '--', '/bin/true'], { euid }));
      expect(e.code).toBe('flag');
      expect(e.message).toBe("flag --rlimit_nofile: 1000000 is above this process's hard limit 524288, and only root outside a user namespace may raise it");
      expect(e.hint).toContain('--rlimit_nofile hard');
    }
  });

  it('root without a user namespace may raise a hard limit', () => {
    const p = planFlags(['--disable_clone_newuser', '--rlimit_nofile', '1000000', '--', '/bin/true']);
    expect(rl(p, 'nofile')).toEqual({ resource: 7, cur: '1000000', max: '1000000' });
  });

  it('the nsjail default of rlimit_memlock (soft) follows the host; --disable_rlimits sets none', () => {
    const p = planFlags(['--', '/bin/true'], { limits: { memlock: { soft: '65536', hard: '65536' } } });
    expect(rl(p, 'memlock')!.cur).toBe('65536');
    expect(planFlags(['--disable_rlimits', '--', '/bin/true']).plan.rlimits).toEqual([]);
  });

  it('a config value of 2^44 MiB saturates at RLIM_INFINITY instead of wrapping', () => {
    const loaded = configFromObject({ rlimit_as: 2 ** 44, clone_newuser: false }, 'test');
    const p = planConfig(loaded, ['/bin/true']);
    expect(rl(p, 'as')!.cur).toBe('infinity');
  });
});

describe('namespaces and mounts', () => {
  it('--disable_clone_newns with mounts is an error naming the count', () => {
    const e = thrown(() => planFlags(['--disable_clone_newns', '-R', '/usr', '-T', '/tmp', '--', '/bin/true']));
    expect(e.code).toBe('flag');
    expect(e.message).toBe('flag --bindmount_ro: mounts need a mount namespace, but clone_newns is off (2 mount entries)');
    expect(e.hint).toContain('--disable_clone_newns');
  });

  it('each --disable_clone_new* clears its bit; --clone_newtime adds CLONE_NEWTIME', () => {
    const cases: Array<[string, number]> = [
      ['--disable_clone_newnet', CLONE_NEWNET],
      ['--disable_clone_newipc', CLONE_NEWIPC],
      ['--disable_clone_newuts', CLONE_NEWUTS],
      ['--disable_clone_newcgroup', CLONE_NEWCGROUP],
    ];
    for (const [flag, bit] of cases) expect(planFlags([flag, '--', '/bin/true']).plan.cloneFlags).toBe(ALL_NS & ~bit);
    expect(planFlags(['--clone_newtime', '--', '/bin/true']).plan.cloneFlags).toBe(ALL_NS | 0x80);
    expect(planFlags(['--disable_clone_newuts', '-H', 'x', '--', '/bin/true']).plan.hostname).toBeNull();
    // Without a PID namespace a fresh /proc cannot be mounted from a user namespace.
    expect(planFlags(['--disable_clone_newpid', '--disable_proc', '--', '/bin/true'], { cgroups: 'v2' }).plan.cloneFlags).toBe(ALL_NS & ~CLONE_NEWPID);
    const proc = thrown(() => planFlags(['--disable_clone_newpid', '--', '/bin/true'], { cgroups: 'v2' }));
    expect(proc.message).toBe('flag --disable_clone_newpid: a fresh /proc needs a PID namespace of its own when the jail has a user namespace');
    expect(proc.hint).toContain('--disable_proc');
  });

  it('without a PID namespace a cgroup is required (a setsid daemon would escape the time limit); -Me needs a PID namespace', () => {
    const e = thrown(() => planFlags(['--disable_clone_newpid', '--disable_proc', '--', '/bin/true']));
    expect(e.message).toBe(
      'flag --disable_clone_newpid: without a PID namespace jail needs a cgroup to find and stop every process the program starts, and it cannot create one here',
    );
    expect(e.hint).toContain('drop --disable_clone_newpid');
    const me = thrown(() => planFlags(['-Me', '--disable_clone_newpid', '--disable_proc', '--', '/bin/true'], { cgroups: 'v2' }));
    expect(me.message).toContain('-Me (execve mode) needs a PID namespace');
  });

  it('the child shares the supervisor memory (CLONE_VM) only when nothing it does would change the supervisor', () => {
    expect(planFlags(['--chroot', '/', '--', '/bin/true']).plan.cloneVm).toBe(true);
    expect(planFlags(['--chroot', '/', '-u', '0', '--', '/bin/true'], { euid: 1000 }).plan.cloneVm).toBe(true);
    // oom_score_adj is per memory owner.
    expect(planFlags(['--chroot', '/', '--oom_score_adj', '5', '--', '/bin/true']).plan.cloneVm).toBe(false);
    // A kernel uid change resets the memory owner's dumpable flag.
    expect(planFlags(['--chroot', '/', '-u', '65534:65534:1', '-g', '65534:65534:1', '--', '/bin/true']).plan.cloneVm).toBe(false);
    expect(planFlags(['--chroot', '/', '-u', '65534', '-g', '65534', '--', '/bin/true']).plan.cloneVm).toBe(true);
    // A memory cgroup's OOM kills every process sharing the victim's memory.
    expect(planFlags(['--chroot', '/', '--cgroup_mem_max', '1048576', '--', '/bin/true'], { cgroups: 'v2' }).plan.cloneVm).toBe(false);
    expect(planFlags(['--chroot', '/', '--', '/bin/true'], { cgroups: 'v2' }).plan.cloneVm).toBe(true);
  });

  it('a missing mandatory bind source, or a file where is_dir asks for a directory, is refused', () => {
    const e = thrown(() => planFlags(['-R', '/nonexistent', '--', '/bin/true']));
    expect(e.message).toBe("flag --bindmount_ro: mount #1 /nonexistent -> /nonexistent (bind, ro): the source '/nonexistent' does not exist on the host");
    const cfg = parseConfigText('mount { src: "/etc/ld.so.cache" dst: "/x" is_bind: true is_dir: true }', 'x.cfg');
    const f = thrown(() => planConfig(cfg, ['/bin/true']));
    expect(f.message).toContain("is not a directory, but is_dir is set");
    expect(f.span?.file).toBe('x.cfg');
  });

  it('prefix_src_env naming an unset variable is an error', () => {
    const cfg = parseConfigText('mount { prefix_src_env: "NOPE" src: "/x" dst: "/x" is_bind: true }', 'x.cfg');
    expect(thrown(() => planConfig(cfg, ['/bin/true'])).message).toBe('mount[0].prefix_src_env: environment variable NOPE is not set');
  });

  it('".." in a destination cannot climb out of the jail root', () => {
    const p = planFlags(['-T', '/../../etc', '--', '/bin/true']);
    const targets = p.plan.mounts.flatMap((m) => ('target' in m ? [m.target] : 'path' in m ? [m.path] : []));
    const outside = targets.filter((t) => t.startsWith('/') && !t.startsWith('/run/jail-test/') && t !== '/' && t !== '/proc');
    expect(outside).toEqual([]);
    expect(targets).toContain('/run/jail-test/root/etc');
  });

  it('a hostname longer than 64 bytes and a relative cwd are refused', () => {
    expect(thrown(() => planFlags(['-H', 'h'.repeat(65), '--', '/bin/true'])).message).toBe(`flag --hostname: '${'h'.repeat(65)}' is longer than 64 bytes`);
    expect(planFlags(['-H', 'h'.repeat(64), '--', '/bin/true']).plan.hostname).toHaveLength(64);
    expect(thrown(() => planFlags(['-D', 'data', '--', '/bin/true'])).message).toContain("flag --cwd: 'data' is not an absolute path");
  });

  it('--silent and --stderr_to_null, --pass_fd', () => {
    expect(planFlags(['--silent', '--', '/bin/true']).plan.devNullFds).toEqual([0, 1, 2]);
    expect(planFlags(['--stderr_to_null', '--', '/bin/true']).plan.devNullFds).toEqual([2]);
    expect(planFlags(['--pass_fd', '7', '--pass_fd', '2', '--pass_fd', '5', '--pass_fd', '7', '--', '/bin/true']).passFds).toEqual([5, 7]);
  });

  it('--keep_caps and --cap', () => {
    expect(planFlags(['--keep_caps', '--', '/bin/true']).plan.caps).toEqual({ keepAll: true, keep: [], drop: [] });
    expect(planFlags(['--cap', 'CAP_NET_BIND_SERVICE', '--cap', 'CAP_CHOWN', '--', '/bin/true']).plan.caps).toEqual({ keepAll: false, keep: [10, 0], drop: [] });
    // A networked jail never keeps the caps that would let it rewrite its own network rules.
    expect(planFlags(['--keep_caps', '--net', 'internet', '--', '/bin/true']).plan.caps).toEqual({ keepAll: true, keep: [], drop: [12, 13] });
  });
});

describe('exec resolution', () => {
  const looked = (host: ReturnType<typeof fakeHost>, name: string) => host.looked.filter((x) => x.endsWith('/' + name));

  it('a bare name is looked up on the caller PATH (the env option, not process.env), keeping what the jail sees', () => {
    const host = fakeHost();
    const { loaded, command } = fromFlags(['-R', '/usr', '--', 'python3', 'x.py']);
    const p = buildPlan(loaded, { command, env: { PATH: '/nowhere:/usr/bin' }, host });
    expect(p.plan.exec).toMatchObject({ path: '/usr/bin/python3', argv: ['python3', 'x.py'] });
    expect(looked(host, 'python3')).toEqual(['/nowhere/python3', '/usr/bin/python3']);
  });

  it('with --chroot / everything on the caller PATH is visible; without PATH /usr/local/bin:/usr/bin:/bin is searched', () => {
    expect(planFlags(['--chroot', '/', '--', 'python3']).plan.exec.path).toBe('/usr/bin/python3');
    expect(planFlags(['--chroot', '/', '--', 'sh'], {}, {}).plan.exec.path).toBe('/bin/sh');
  });

  it('a bind that moves a directory gives the path inside the jail', () => {
    const p = planFlags(['-R', '/usr/bin:/tools', '--', 'python3']);
    expect(p.plan.exec.path).toBe('/tools/python3');
  });

  it("the jail's own PATH (envar) is searched first, through the binds", () => {
    const p = planFlags(['-E', 'PATH=/opt/bin:/usr/bin', '-B', '/usr/bin:/opt/bin', '-R', '/usr', '--', 'python3']);
    expect(p.plan.exec.path).toBe('/opt/bin/python3');
    expect(p.plan.exec.envp).toEqual(['PATH=/opt/bin:/usr/bin']);
  });

  it('found on the host but not visible in the jail: not-found, with the directory to mount', () => {
    const e = thrown(() => planFlags(['--', 'python3']));
    expect(e.code).toBe('not-found');
    expect(e.message).toBe("command 'python3' was found at /usr/bin/python3, but the jail cannot see that path");
    expect(e.hint).toContain('-R /usr/bin');
  });

  it('a name with a slash is used as given (resolved inside the jail)', () => {
    const host = fakeHost();
    const { loaded, command } = fromFlags(['--', './prog', '-v']);
    const p = buildPlan(loaded, { command, env: FAKE_ENV, host });
    expect(p.plan.exec).toMatchObject({ path: './prog', argv: ['./prog', '-v'] });
    expect(looked(host, 'prog')).toEqual([]);
  });

  it('a missing command, or one that is not executable, is "not-found" with PATH in the message', () => {
    const e = thrown(() => planFlags(['--chroot', '/', '--', 'nosuchprog']));
    expect(e.code).toBe('not-found');
    expect(e.message).toBe("command not found: 'nosuchprog' is not an executable file in PATH=/usr/local/bin:/usr/bin:/bin");
    expect(thrown(() => planFlags(['--chroot', '/', '--', 'not-executable'])).code).toBe('not-found');
  });

  it('no command and no exec_bin is an error', () => {
    expect(thrown(() => planFlags([])).message).toContain('no command to run');
  });

  it('exec_bin alone; exec_bin with arg0; exec_bin overridden argv by -- (nsjail: the program stays exec_bin.path)', () => {
    const base = 'exec_bin { path: "/usr/bin/env" arg: "A=1" arg: "true" }';
    const only = planConfig(parseConfigText(base, 'e.cfg'), []);
    expect(only.plan.exec).toMatchObject({ path: '/usr/bin/env', argv: ['/usr/bin/env', 'A=1', 'true'] });
    const arg0 = planConfig(parseConfigText('exec_bin { path: "/usr/bin/env" arg0: "renamed" arg: "x" }', 'e.cfg'), []);
    expect(arg0.plan.exec).toMatchObject({ path: '/usr/bin/env', argv: ['renamed', 'x'] });
    const both = planConfig(parseConfigText(base, 'e.cfg'), ['/bin/echo', 'hi']);
    expect(both.plan.exec).toMatchObject({ path: '/usr/bin/env', argv: ['/bin/echo', 'hi'] });
    const x = planFlags(['-x', 'sh', '--chroot', '/', '--', 'anything', 'arg']);
    expect(x.plan.exec).toMatchObject({ path: '/bin/sh', argv: ['anything', 'arg'] });
  });

  it('--execute_fd looks the binary up on the host (it is opened before the jail exists)', () => {
    const x = planFlags(['--execute_fd', '--', 'python3']);
    expect(x.execFdPath).toBe('/usr/bin/python3');
    expect(x.plan.exec.path).toBe('/usr/bin/python3');
    expect(planFlags(['--chroot', '/', '--', 'python3']).execFdPath).toBeNull();
  });
});

describe('environment', () => {
  it('is empty by default', () => {
    expect(planFlags(['--', '/bin/true']).plan.exec.envp).toEqual([]);
  });

  it('keep_env copies the caller environment (the env option)', () => {
    expect(planFlags(['-e', '--', '/bin/true']).plan.exec.envp).toEqual(Object.entries(FAKE_ENV).map(([k, v]) => `${k}=${v}`));
  });

  it('-E K=V sets, -E K copies, a missing K is not passed (no warning), later values win', () => {
    const p = planFlags(['-E', 'A=1', '-E', 'HOME', '-E', 'MISSING', '-E', 'A=2', '-E', 'EMPTY=', '-E', 'EQ=a=b', '--', '/bin/true']);
    expect(p.plan.exec.envp).toEqual(['A=2', 'HOME=/home/alice', 'EMPTY=', 'EQ=a=b']);
    expect(p.unsetEnv).toEqual(['MISSING']);
    expect(p.warnings.filter((w) => w.includes('MISSING'))).toEqual([]);
  });

  it('-E overrides a kept variable in place', () => {
    const p = planFlags(['-e', '-E', 'HOME=/jail', '--', '/bin/true']);
    expect(p.plan.exec.envp).toContain('HOME=/jail');
    expect(p.plan.exec.envp).not.toContain('HOME=/home/alice');
    expect(p.plan.exec.envp).toHaveLength(Object.keys(FAKE_ENV).length);
  });
});
