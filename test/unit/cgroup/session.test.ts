/**
 * The supervisor's cgroup session against a cgroup filesystem played by a temporary directory
 * (fake-cgroupfs.ts): what it creates and writes before launch, how it kills, what it reads
 * back and says, what it removes — and the cleanup of cgroups left by dead supervisors.
 */
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load';
import { planCgroup } from '../../../src/cgroup/plan';
import { processStartTime } from '../../../src/cgroup/facts';
import type { CgroupPlan } from '../../../src/cgroup/plan';
import { openCgroupSession } from '../../../src/cgroup/session';
import { findStale } from '../../../src/cgroup/sweep';
import { makeLogger } from '../../../src/supervisor/log';
import { FakeCgroupFs } from './fake-cgroupfs';
import { hostWith, hybridV1, NAME, OWNER, unifiedV2 } from './fake-cgroups';
import { thrown } from '../../helpers/thrown';

/** Made-up pids of "jailed processes": above any pid_max, so nothing real is ever meant. */
const P1 = 5_000_001;
const P2 = 5_000_002;

let cgfs: FakeCgroupFs | undefined;
afterEach(() => {
  cgfs?.remove();
  cgfs = undefined;
});

/** The planner's plan for `config` on a made-up host, moved into the fake filesystem. */
function planIn(fake: FakeCgroupFs, config: string, facts = fake.version === 1 ? hybridV1() : unifiedV2()): CgroupPlan {
  const plan = planCgroup(parseConfigText(config, 'jail.cfg'), hostWith(facts));
  return JSON.parse(JSON.stringify(plan).replaceAll('/sys/fs/cgroup', fake.root)) as CgroupPlan;
}

/** The same plan for this process's next jail (its own sequence number). */
function renamed(plan: CgroupPlan): CgroupPlan {
  return JSON.parse(JSON.stringify(plan).replaceAll(NAME, NAME.replace(/\.0$/, '.1'))) as CgroupPlan;
}

function logger() {
  const lines: string[] = [];
  return { lines, log: makeLogger((e) => lines.push(`${e.level} ${e.message}`), 'debug') };
}


describe('cgroup v1 session', () => {
  const LIMITS = 'cgroup_mem_max: 268435456\ncgroup_pids_max: 64\ncgroup_cpu_ms_per_sec: 100';

  it('creates the directories (and the missing NSJAIL parents) and writes the limits', () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    const plan = planIn(cgfs, LIMITS);
    const session = openCgroupSession(cgfs.addon(), plan, logger().log);
    expect(session.cloneFd).toBe(-1);
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct', 'freezer']) expect(cgfs.exists(`${c}/NSJAIL/${NAME}`)).toBe(true);
    expect(cgfs.get(`memory/NSJAIL/${NAME}/memory.limit_in_bytes`)).toBe('268435456');
    expect(cgfs.get(`memory/NSJAIL/${NAME}/memory.memsw.limit_in_bytes`)).toBe('268435456');
    expect(cgfs.get(`memory/NSJAIL/${NAME}/memory.oom_control`)).toBe('0');
    expect(cgfs.get(`pids/NSJAIL/${NAME}/pids.max`)).toBe('64');
    expect(cgfs.get(`cpu/NSJAIL/${NAME}/cpu.cfs_period_us`)).toBe('100000');
    expect(cgfs.get(`cpu/NSJAIL/${NAME}/cpu.cfs_quota_us`)).toBe('10000');
    // The child is attached by the addon after clone, not here.
    expect(cgfs.ops.some((o) => o.path?.endsWith('cgroup.procs'))).toBe(false);
    session.destroy();
  });

  it('net_cls: the cgroup below cgroup_net_cls_parent gets the classid, is removed after the jail, and swept after a dead supervisor', async () => {
    cgfs = new FakeCgroupFs(1);
    const hierarchies = ['memory', 'cpuacct', 'freezer', 'net_cls'];
    for (const c of hierarchies) cgfs.cgroup(c);
    const facts = hybridV1();
    facts.mounts.push({ path: '/sys/fs/cgroup/net_cls', version: 1, controllers: ['net_cls'], root: '/', readOnly: false });
    const plan = planIn(cgfs, 'cgroup_net_cls_classid: 0x100001\ncgroup_net_cls_parent: "judge"', facts);
    const session = openCgroupSession(cgfs.addon(), plan, logger().log);
    expect(cgfs.get(`net_cls/judge/${NAME}/net_cls.classid`)).toBe('0x100001');
    await session.finish();
    expect(cgfs.exists(`net_cls/judge/${NAME}`)).toBe(false);
    expect(cgfs.exists('net_cls/judge')).toBe(false);

    const gone = `4194305.77.${OWNER.pidns}.0`;
    cgfs.cgroup(`net_cls/judge/${gone}`);
    cgfs.cgroup(`memory/judge/${gone}`);
    const mounts = hierarchies.map((c) => ({ path: cgfs!.at(c), version: 1 as const, controllers: [c], root: '/', readOnly: false }));
    expect(findStale(plan, OWNER, mounts)).toEqual(new Map([[gone, [cgfs.at(`net_cls/judge/${gone}`), cgfs.at(`memory/judge/${gone}`)]]]));
  });

  it('kills by freezing, SIGKILLing every member, thawing; finish reads the accounting, logs in words, removes the directories', async () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    const plan = planIn(cgfs, LIMITS);
    const { log, lines } = logger();
    const session = openCgroupSession(cgfs.addon(), plan, log);
    for (const dir of plan.dirs) fs.writeFileSync(`${dir}/cgroup.procs`, `${P1}\n${P2}\n`);
    cgfs.set(`memory/NSJAIL/${NAME}/memory.max_usage_in_bytes`, '268435456\n');
    cgfs.set(`memory/NSJAIL/${NAME}/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    cgfs.set(`pids/NSJAIL/${NAME}/pids.events`, 'max 3\n');
    cgfs.set(`cpuacct/NSJAIL/${NAME}/cpuacct.usage`, '2500000000\n');

    await session.killAll();
    const freezer = `${cgfs.root}/freezer/NSJAIL/${NAME}/freezer.state`;
    const seq = cgfs.ops.filter((o) => o.path === freezer || o.fn === 'kill').map((o) => (o.fn === 'kill' ? `kill ${o.pid} ${o.content}` : o.content));
    expect(seq).toEqual(['FROZEN', `kill ${P1} 9`, `kill ${P2} 9`, 'THAWED']);

    const stats = await session.finish();
    expect(stats).toEqual({ oomKilled: true, pidsLimitHit: true, memoryPeakBytes: 268435456, cpuTimeMs: 2500 });
    expect(lines).toContain("warn killed: memory limit 256 MiB reached (the kernel's OOM killer ended 1 process)");
    expect(lines).toContain('warn pids limit 64 reached: 3 forks refused');
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct', 'freezer']) {
      expect(cgfs.exists(`${c}/NSJAIL/${NAME}`)).toBe(false);
      expect(cgfs.exists(`${c}/NSJAIL`)).toBe(false); // the session made them: gone with its jail
    }
  });

  it('without a freezer hierarchy, members are killed from cgroup.procs', async () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'cpuacct']) cgfs.cgroup(c);
    const facts = hybridV1();
    facts.mounts = facts.mounts.filter((m) => m.path !== '/sys/fs/cgroup/freezer');
    const plan = planIn(cgfs, '', facts);
    const session = openCgroupSession(cgfs.addon(), plan, logger().log);
    fs.writeFileSync(`${plan.dirs[0]}/cgroup.procs`, `${P1}\n`);
    await session.killAll();
    expect(cgfs.killed).toEqual([P1]);
    session.destroy();
  });

  it('parents that were there before stay; parents this process made stay until the last of its jails in them is done', async () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    cgfs.cgroup('memory/NSJAIL'); // an admin's
    const plan = planIn(cgfs, '');
    const first = openCgroupSession(cgfs.addon(), plan, logger().log);
    const second = openCgroupSession(cgfs.addon(), renamed(plan), logger().log);
    await first.finish();
    for (const c of ['memory', 'cpuacct', 'freezer']) expect(cgfs.exists(`${c}/NSJAIL`)).toBe(true);
    await second.finish();
    expect(cgfs.exists('memory/NSJAIL')).toBe(true);
    expect(cgfs.exists('cpuacct/NSJAIL')).toBe(false);
    expect(cgfs.exists('freezer/NSJAIL')).toBe(false);
  });

  it('a parent made here that a jail of another process still uses stays, and the next jail here removes it', async () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    const first = openCgroupSession(cgfs.addon(), planIn(cgfs, ''), logger().log);
    cgfs.cgroup('cpuacct/NSJAIL/other-process-jail');
    await first.finish();
    expect(cgfs.exists('cpuacct/NSJAIL')).toBe(true);
    expect(cgfs.exists('memory/NSJAIL')).toBe(false);
    fs.rmSync(cgfs.at('cpuacct/NSJAIL/other-process-jail'), { recursive: true });
    await openCgroupSession(cgfs.addon(), planIn(cgfs, ''), logger().log).finish();
    for (const c of ['memory', 'cpuacct', 'freezer']) expect(cgfs.exists(`${c}/NSJAIL`)).toBe(false);
  });

  it('a limit the kernel refuses stops the launch: the error names file, value and errno, and nothing is left', () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    const plan = planIn(cgfs, LIMITS);
    cgfs.failWrites.set(`${cgfs.root}/pids/NSJAIL/${NAME}/pids.max`, 22);
    const e = thrown(() => openCgroupSession(cgfs!.addon(), plan, logger().log));
    expect(e.code).toBe('cgroup');
    expect(e.message).toBe(`cannot write '64' to ${cgfs.root}/pids/NSJAIL/${NAME}/pids.max: EINVAL (invalid argument): the kernel does not accept this value for pids.max`);
    expect(e.details).toMatchObject({ errno: 'EINVAL', controller: 'pids' });
    for (const c of ['memory', 'pids', 'cpu', 'cpuacct', 'freezer']) expect(cgfs.exists(`${c}/NSJAIL/${NAME}`)).toBe(false);
  });

  it('no permission to create the cgroup: the error says cgroup v1 is root-only', () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    const plan = planIn(cgfs, '');
    cgfs.failMkdir.set(`${cgfs.root}/memory/NSJAIL`, 13);
    const e = thrown(() => openCgroupSession(cgfs!.addon(), plan, logger().log));
    expect(e.message).toBe(`cannot create cgroup ${cgfs.root}/memory/NSJAIL: EACCES (permission denied)`);
    expect(e.hint).toBe('cgroup v1 hierarchies belong to root: run jail as root');
  });
});

describe('cgroup v2 session', () => {
  it('creates JAIL/<name>, enables controllers, opens the directory for CLONE_INTO_CGROUP; finish kills through cgroup.kill', async () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    const plan = planIn(cgfs, 'cgroup_mem_max: 1073741824\ncgroup_pids_max: 256');
    const { log, lines } = logger();
    const session = openCgroupSession(cgfs.addon(), plan, log);
    const dir = `JAIL/${NAME}`;
    expect(cgfs.get('JAIL/cgroup.subtree_control')).toBe('+memory\n+pids\n+cpu\n');
    expect(cgfs.get(`${dir}/memory.max`)).toBe('1073741824');
    expect(cgfs.get(`${dir}/memory.swap.max`)).toBe('0');
    expect(cgfs.get(`${dir}/memory.oom.group`)).toBe('1');
    expect(cgfs.get(`${dir}/pids.max`)).toBe('256');
    expect(cgfs.ops.find((o) => o.fn === 'openPath')?.path).toBe(cgfs.at(dir));
    expect(cgfs.openFds.has(session.cloneFd)).toBe(true);

    fs.writeFileSync(cgfs.at(`${dir}/cgroup.procs`), `${P1}\n`);
    cgfs.set(`${dir}/memory.peak`, '1073741824\n');
    cgfs.set(`${dir}/memory.events`, 'low 0\nhigh 0\nmax 9\noom 1\noom_kill 2\n');
    cgfs.set(`${dir}/cpu.stat`, 'usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n');
    const stats = await session.finish();
    expect(cgfs.ops.some((o) => o.path === cgfs!.at(`${dir}/cgroup.kill`) && o.content === '1')).toBe(true);
    expect(stats).toEqual({ oomKilled: true, pidsLimitHit: false, memoryPeakBytes: 1073741824, cpuTimeMs: 1234.567 });
    expect(lines).toContain("warn killed: memory limit 1 GiB reached (the kernel's OOM killer ended 2 processes)");
    expect(cgfs.exists(dir)).toBe(false);
    expect(cgfs.openFds.size).toBe(0);
  });

  it('alone in its cgroup, the supervisor moves into a leaf of its own to enable controllers (no internal processes)', async () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    cgfs.cgroup('system.slice/jail.service', [process.pid]);
    const plan = planIn(cgfs, 'cgroup_pids_max: 5', unifiedV2({ selfV2: '/system.slice/jail.service' }));
    const { log, lines } = logger();
    const session = openCgroupSession(cgfs.addon(), plan, log);
    const leaf = `system.slice/jail.service/JAIL/supervisor.${OWNER.pid}.${OWNER.start}.${OWNER.pidns}`;
    expect(cgfs.procs(cgfs.at(leaf))).toEqual([process.pid]);
    expect(cgfs.procs(cgfs.at('system.slice/jail.service'))).toEqual([]);
    expect(cgfs.get('system.slice/jail.service/cgroup.subtree_control')).toBe('+pids\n');
    expect(lines.some((l) => l.startsWith(`info moved this process (pid ${process.pid}) from ${cgfs!.at('system.slice/jail.service')} into ${cgfs!.at(leaf)}`))).toBe(true);
    await session.finish();
    // The leaf holds the supervisor, so it stays; the jail's cgroup goes.
    expect(cgfs.exists(leaf)).toBe(true);
    expect(cgfs.exists(`system.slice/jail.service/JAIL/${NAME}`)).toBe(false);
  });

  it('sharing its cgroup with another process, moving cannot help: the error lists who is there', () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    cgfs.cgroup('system.slice/jail.service', [process.pid]);
    const plan = planIn(cgfs, 'cgroup_pids_max: 5', unifiedV2({ selfV2: '/system.slice/jail.service' }));
    fs.appendFileSync(cgfs.at('system.slice/jail.service/cgroup.procs'), `${P1}\n`);
    const e = thrown(() => openCgroupSession(cgfs!.addon(), plan, logger().log));
    expect(e.code).toBe('cgroup');
    expect(e.message).toMatch(new RegExp(`^cannot enable pids in .*/jail.service/cgroup.subtree_control: .*/jail.service holds other processes \\(pid ${P1}\\)`));
    expect(e.hint).toMatch(/systemd-run --scope -p Delegate=yes/);
    expect(cgfs.exists(`system.slice/jail.service/JAIL/${NAME}`)).toBe(false);
  });

  it('no swap accounting: the error says so and how to allow swap instead', () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    cgfs.missing.add('memory.swap.max');
    const plan = planIn(cgfs, 'cgroup_mem_max: 1048576');
    const e = thrown(() => openCgroupSession(cgfs!.addon(), plan, logger().log));
    expect(e.message).toMatch(/memory.swap.max: ENOENT \(no such file or directory\): the kernel does not account swap$/);
    expect(e.hint).toBe('boot it with swapaccount=1, or set cgroup_mem_swap_max: -1 to leave swap unlimited');
  });

  it('not delegated: EACCES names the fix', () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    const plan = planIn(cgfs, '');
    cgfs.failMkdir.set(cgfs.at('JAIL'), 13);
    const e = thrown(() => openCgroupSession(cgfs!.addon(), plan, logger().log));
    expect(e.hint).toBe('run as root, or delegate a cgroup to your user and run jail in it: systemd-run --user -p Delegate=yes --scope jail ...');
  });

  it('without cgroup.kill (Linux < 5.14) the members are killed one by one', async () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    cgfs.missing.add('cgroup.kill');
    const plan = planIn(cgfs, '');
    const session = openCgroupSession(cgfs.addon(), plan, logger().log);
    fs.writeFileSync(`${plan.dirs[0]}/cgroup.procs`, `${P1}\n${P2}\n`);
    await session.killAll();
    expect(cgfs.killed).toEqual([P1, P2]);
    session.destroy();
  });
});

describe('cleaning up after dead supervisors', () => {
  it('removes the cgroups of supervisors that are gone (killing what is left), and nothing else', async () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    const start = processStartTime(process.pid)!;
    const gone = `4194305.77.${OWNER.pidns}.3`; // no such pid (above pid_max)
    const recycled = `${process.pid}.${start + 1}.${OWNER.pidns}.0`; // this pid, another start: another process
    const alive = `${process.pid}.${start}.${OWNER.pidns}.0`; // a live supervisor
    const foreign = `4194305.77.12345.0`; // another pid namespace: not ours to judge
    const own = `${OWNER.pid}.${OWNER.start}.${OWNER.pidns}.9`; // this supervisor's other jail
    const keep = [alive, foreign, own, 'NSJAIL.4194305', 'judge'];
    for (const c of ['memory', 'cpuacct', 'freezer']) {
      for (const n of [gone, recycled, ...keep]) cgfs.cgroup(`${c}/NSJAIL/${n}`);
      cgfs.cgroup(`${c}/NSJAIL/${gone}`, [P1]);
      cgfs.cgroup(`${c}/NSJAIL/${gone}/nested`);
    }
    const { log, lines } = logger();
    const session = openCgroupSession(cgfs.addon(), planIn(cgfs, ''), log);
    await session.finish();
    expect(cgfs.killed).toEqual([P1]);
    for (const c of ['memory', 'cpuacct', 'freezer']) {
      expect(cgfs.exists(`${c}/NSJAIL/${gone}`)).toBe(false);
      expect(cgfs.exists(`${c}/NSJAIL/${recycled}`)).toBe(false);
      for (const n of keep) expect(cgfs.exists(`${c}/NSJAIL/${n}`)).toBe(true);
    }
    expect(lines.filter((l) => l.includes('left by jail supervisor pid 4194305 (no longer running); killed 1 process left in it'))).toHaveLength(1);
  });

  it('on cgroup v1 searches the same parents in every mounted hierarchy, also those this jail does not use', () => {
    cgfs = new FakeCgroupFs(1);
    const hierarchies = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer'];
    for (const c of hierarchies) cgfs.cgroup(c);
    const gone = `4194305.77.${OWNER.pidns}.0`;
    cgfs.cgroup(`pids/judge/${gone}`);
    cgfs.cgroup(`cpu/judge/${gone}`);
    cgfs.cgroup(`pids/NSJAIL/${gone}`); // another parent than this run's: not searched
    const plan = planIn(cgfs, 'cgroup_mem_parent: "judge"');
    const mounts = hierarchies.map((c) => ({ path: cgfs!.at(c), version: 1 as const, controllers: [c], root: '/', readOnly: false }));
    expect(findStale(plan, OWNER, mounts)).toEqual(new Map([[gone, [cgfs.at(`pids/judge/${gone}`), cgfs.at(`cpu/judge/${gone}`)]]]));
  });

  it('leaves alone the leaf of a dead supervisor that this process runs in (it inherited it)', async () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    cgfs.cgroup(`JAIL/supervisor.4194305.77.${OWNER.pidns}`, [process.pid]);
    const session = openCgroupSession(cgfs.addon(), planIn(cgfs, ''), logger().log);
    await session.finish();
    expect(cgfs.procs(cgfs.at(`JAIL/supervisor.4194305.77.${OWNER.pidns}`))).toEqual([process.pid]);
    expect(cgfs.ops.some((o) => o.path?.endsWith('cgroup.kill') && o.path.includes('supervisor'))).toBe(false);
  });

  it('removes the leaf of a dead supervisor on cgroup v2', async () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    cgfs.cgroup(`JAIL/supervisor.4194305.77.${OWNER.pidns}`);
    const session = openCgroupSession(cgfs.addon(), planIn(cgfs, ''), logger().log);
    await session.finish();
    expect(cgfs.exists(`JAIL/supervisor.4194305.77.${OWNER.pidns}`)).toBe(false);
    expect(cgfs.exists('JAIL')).toBe(true);
  });
});

describe('killing never signals a process outside the jail', () => {
  /** P1 leaves the jail's cgroup right after its pidfd is opened: its number now names a process elsewhere. */
  function p1LeavesAfterListing(fake: FakeCgroupFs, elsewhere: string): void {
    fake.cgroup(elsewhere);
    fake.onPidfdOpen = (pid) => {
      if (pid === P1) fake.move(P1, elsewhere);
    };
  }

  it('cgroup v1 without a freezer: a pid that left between listing and signalling gets no signal', async () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'cpuacct']) cgfs.cgroup(c);
    const facts = hybridV1();
    facts.mounts = facts.mounts.filter((m) => m.path !== '/sys/fs/cgroup/freezer');
    const plan = planIn(cgfs, '', facts);
    const session = openCgroupSession(cgfs.addon(), plan, logger().log);
    for (const dir of plan.dirs) fs.writeFileSync(`${dir}/cgroup.procs`, `${P1}\n${P2}\n`);
    p1LeavesAfterListing(cgfs, 'memory/other');
    await session.killAll();
    expect(cgfs.killed).toEqual([P2]);
    expect(cgfs.ops.filter((o) => o.fn === 'kill' && o.pid === P1)).toEqual([]);
    expect(cgfs.procs(cgfs.at('memory/other'))).toEqual([P1]);
    expect(cgfs.openFds.size).toBe(0); // every pidfd closed
    session.destroy();
  });

  it('cgroup v2 without cgroup.kill: the same', async () => {
    cgfs = new FakeCgroupFs(2);
    cgfs.cgroup('.', [1]);
    cgfs.missing.add('cgroup.kill');
    const plan = planIn(cgfs, '');
    const session = openCgroupSession(cgfs.addon(), plan, logger().log);
    fs.writeFileSync(`${plan.dirs[0]}/cgroup.procs`, `${P1}\n${P2}\n`);
    p1LeavesAfterListing(cgfs, 'other');
    await session.killAll();
    expect(cgfs.killed).toEqual([P2]);
    expect(cgfs.procs(cgfs.at('other'))).toEqual([P1]);
    session.destroy();
  });

  it('cgroup v1 with a freezer that never reports FROZEN: waits without blocking the event loop, then signals through pidfds and thaws', async () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    const plan = planIn(cgfs, '');
    const session = openCgroupSession(cgfs.addon(), plan, logger().log);
    for (const dir of plan.dirs) fs.writeFileSync(`${dir}/cgroup.procs`, `${P1}\n${P2}\n`);
    cgfs.freezeHangs = true;
    p1LeavesAfterListing(cgfs, 'freezer/other');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const start = Date.now();
    await session.killAll();
    clearInterval(timer);
    // The 100 ms wait for FROZEN ran on timers: other callbacks ran meanwhile.
    expect(Date.now() - start).toBeGreaterThanOrEqual(90);
    expect(ticks).toBeGreaterThan(5);
    expect(cgfs.killed).toEqual([P2]);
    const freezer = cgfs.at(`freezer/NSJAIL/${NAME}/freezer.state`);
    expect(cgfs.ops.filter((o) => o.path === freezer).map((o) => o.content)).toEqual(['FROZEN', 'THAWED']);
    session.destroy();
  });

  it('a kill asked for while one is under way shares it (one freeze, one thaw)', async () => {
    cgfs = new FakeCgroupFs(1);
    for (const c of ['memory', 'cpuacct', 'freezer']) cgfs.cgroup(c);
    const plan = planIn(cgfs, '');
    const session = openCgroupSession(cgfs.addon(), plan, logger().log);
    for (const dir of plan.dirs) fs.writeFileSync(`${dir}/cgroup.procs`, `${P1}\n`);
    cgfs.freezeHangs = true;
    await Promise.all([session.killAll(), session.killAll()]);
    const freezer = cgfs.at(`freezer/NSJAIL/${NAME}/freezer.state`);
    expect(cgfs.ops.filter((o) => o.path === freezer).map((o) => o.content)).toEqual(['FROZEN', 'THAWED']);
    expect(cgfs.killed).toEqual([P1]);
    session.destroy();
  });
});
