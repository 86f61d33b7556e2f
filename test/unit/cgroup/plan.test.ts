/**
 * planCgroup against made-up hosts: which cgroup version, which directories, which files get
 * which values (golden JSON for the main cases), and the errors with their fixes.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load';
import type { LoadedConfig } from '../../../src/config/types';
import { chooseCgroupVersion, planCgroup } from '../../../src/cgroup/plan';
import type { CgroupFacts } from '../../../src/cgroup/facts';
import type { CgroupPlan } from '../../../src/cgroup/plan';
import { configOfFlags } from './flags';
import { fakeCgroups, hostWith, hybridV1, NAME, OWNER, unifiedV2, USER_SCOPE } from './fake-cgroups';
import { thrown } from '../../helpers/thrown';

const golden = (name: string) => join(__dirname, 'golden', `${name}.json`);
const json = (p: unknown) => JSON.stringify(p, null, 2) + '\n';
const cfg = (text: string) => parseConfigText(text, 'jail.cfg');

function plan(loaded: LoadedConfig, facts: CgroupFacts, euid = 0): CgroupPlan | null {
  return planCgroup(loaded, hostWith(facts, euid));
}


/** The setup writes as "path = content" lines, for compact assertions. */
const writes = (p: CgroupPlan | null) => (p?.setup ?? []).map((w) => `${w.path} = ${w.content}`);

const LIMITS = ['--memory', '256M', '--pids', '64', '--cpus', '0.1'];

describe('which cgroup version', () => {
  it('a hybrid host (controllers on v1, /sys/fs/cgroup is tmpfs) uses v1', () => {
    expect(chooseCgroupVersion(cfg(''), hybridV1())).toBe(1);
  });
  it('a unified host (/sys/fs/cgroup is cgroup2) uses v2', () => {
    expect(chooseCgroupVersion(cfg(''), unifiedV2())).toBe(2);
  });
  it('use_cgroupv2 forces v2; detect_cgroupv2 follows cgroupv2_mount (nsjail)', () => {
    expect(chooseCgroupVersion(cfg('use_cgroupv2: true'), hybridV1())).toBe(2);
    expect(chooseCgroupVersion(cfg('detect_cgroupv2: true'), hybridV1())).toBe(1);
    expect(chooseCgroupVersion(cfg('detect_cgroupv2: true\ncgroupv2_mount: "/sys/fs/cgroup/unified"'), hybridV1())).toBe(2);
    expect(chooseCgroupVersion(cfg('detect_cgroupv2: true'), unifiedV2())).toBe(2);
  });
  it('a cgroupv2_mount that does not exist yet is judged by the cgroup it would be created in', () => {
    expect(chooseCgroupVersion(cfg('cgroupv2_mount: "/sys/fs/cgroup/jails/a"'), unifiedV2())).toBe(2);
  });
  it('no cgroup filesystem: no cgroup without limits, an error with one', () => {
    const none = fakeCgroups({ mounts: [], fsTypes: { '/sys': 'sysfs' }, dirs: ['/sys/fs/cgroup'] });
    expect(chooseCgroupVersion(cfg(''), none)).toBeNull();
    expect(plan(cfg(''), none)).toBeNull();
    const e = thrown(() => plan(cfg('cgroup_pids_max: 5'), none));
    expect(e.message).toBe('cgroup_pids_max: this host has no cgroup filesystem mounted (see /proc/self/mountinfo)');
    expect(e.span).toMatchObject({ file: 'jail.cfg', line: 1 });
  });
});

describe('cgroup v1', () => {
  it('memory, pids and cpu limits: one directory per hierarchy, limits, then attach (golden)', async () => {
    const p = plan(configOfFlags(LIMITS), hybridV1());
    await expect(json(p)).toMatchFileSnapshot(golden('v1-limits'));
    expect(p!.dirs).toEqual(['memory', 'pids', 'cpu', 'cpuacct', 'freezer'].map((c) => `/sys/fs/cgroup/${c}/NSJAIL/${NAME}`));
    expect(writes(p)).toEqual([
      `/sys/fs/cgroup/memory/NSJAIL/${NAME}/memory.oom_control = 0`,
      `/sys/fs/cgroup/memory/NSJAIL/${NAME}/memory.limit_in_bytes = 268435456`,
      `/sys/fs/cgroup/memory/NSJAIL/${NAME}/memory.memsw.limit_in_bytes = 268435456`,
      `/sys/fs/cgroup/pids/NSJAIL/${NAME}/pids.max = 64`,
      `/sys/fs/cgroup/cpu/NSJAIL/${NAME}/cpu.cfs_period_us = 100000`,
      `/sys/fs/cgroup/cpu/NSJAIL/${NAME}/cpu.cfs_quota_us = 10000`,
    ]);
    expect(p!.attach).toEqual(p!.dirs.map((d) => ({ path: `${d}/cgroup.procs`, content: '{pid}' })));
    expect(p!.cloneInto).toBeNull();
  });

  it('no limits: memory (peak), cpuacct (CPU time) and freezer (kill) all the same (golden)', async () => {
    const p = plan(cfg(''), hybridV1());
    await expect(json(p)).toMatchFileSnapshot(golden('v1-accounting'));
    expect(p!.dirs).toEqual(['memory', 'cpuacct', 'freezer'].map((c) => `/sys/fs/cgroup/${c}/NSJAIL/${NAME}`));
  });

  it('controllers mounted together (cpu,cpuacct) share one directory', () => {
    const facts = hybridV1();
    facts.mounts = facts.mounts
      .filter((m) => m.path !== '/sys/fs/cgroup/cpuacct')
      .map((m) => (m.path === '/sys/fs/cgroup/cpu' ? { ...m, path: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'] } : m));
    const p = plan(cfg('cgroup_cpu_ms_per_sec: 250'), facts);
    expect(p!.dirs).toEqual([`/sys/fs/cgroup/memory/NSJAIL/${NAME}`, `/sys/fs/cgroup/cpu,cpuacct/NSJAIL/${NAME}`, `/sys/fs/cgroup/freezer/NSJAIL/${NAME}`]);
    expect(writes(p)).toContain(`/sys/fs/cgroup/cpu,cpuacct/NSJAIL/${NAME}/cpu.cfs_quota_us = 25000`);
  });

  it('parents are nsjail-compatible and may be nested paths; freezer and cpuacct follow cgroup_mem_parent', () => {
    const p = plan(cfg('cgroup_mem_max: 1048576\ncgroup_mem_parent: "judge/jails"\ncgroup_pids_max: 3\ncgroup_pids_parent: "/p"'), hybridV1());
    expect(p!.dirs).toEqual([
      `/sys/fs/cgroup/memory/judge/jails/${NAME}`,
      `/sys/fs/cgroup/pids/p/${NAME}`,
      `/sys/fs/cgroup/cpuacct/judge/jails/${NAME}`,
      `/sys/fs/cgroup/freezer/judge/jails/${NAME}`,
    ]);
  });

  it("a parent outside the hierarchy ('..') is refused at its line", () => {
    const e = thrown(() => plan(cfg('cgroup_mem_max: 1048576\ncgroup_mem_parent: "../../etc"'), hybridV1()));
    expect(e.code).toBe('config');
    expect(e.message).toMatch(/^cgroup_mem_parent: '..\/..\/etc' is not a cgroup below the hierarchy/);
    expect(e.span).toMatchObject({ line: 2 });
  });

  it('a *_mount that is not a cgroup v1 hierarchy, or the wrong one, is refused', () => {
    expect(thrown(() => plan(cfg('cgroup_mem_max: 1\ncgroup_mem_mount: "/sys/fs/cgroup"'), hybridV1())).message).toBe(
      'cgroup_mem_mount: /sys/fs/cgroup is not a cgroup v1 hierarchy (it is tmpfs)',
    );
    expect(thrown(() => plan(cfg('cgroup_mem_max: 1\ncgroup_mem_mount: "/sys/fs/cgroup/pids"'), hybridV1())).message).toBe(
      'cgroup_mem_mount: /sys/fs/cgroup/pids is the cgroup v1 hierarchy of pids, not of memory',
    );
  });

  it('swap: explicit swap gives memsw = memory + swap; -1 writes no memsw', () => {
    expect(writes(plan(cfg('cgroup_mem_max: 1000\ncgroup_mem_swap_max: 24'), hybridV1()))).toContain(
      `/sys/fs/cgroup/memory/NSJAIL/${NAME}/memory.memsw.limit_in_bytes = 1024`,
    );
    expect(writes(plan(cfg('cgroup_mem_max: 1000\ncgroup_mem_swap_max: -1'), hybridV1())).join('\n')).not.toMatch(/memsw/);
  });

  it('without swap accounting the implicit "no swap" is left out, an explicit swap limit is an error', () => {
    const facts = () => hybridV1({ files: { '/sys/fs/cgroup/memory/cgroup.procs': '1\n' } });
    expect(writes(plan(cfg('cgroup_mem_max: 1000'), facts())).join('\n')).not.toMatch(/memsw/);
    const e = thrown(() => plan(cfg('cgroup_mem_max: 1000\ncgroup_mem_swap_max: 0'), facts()));
    expect(e.message).toMatch(/^cgroup_mem_swap_max: this kernel does not account swap in cgroup v1/);
    expect(e.hint).toBe('boot the kernel with swapaccount=1');
  });

  it('v1 cannot limit swap without memory', () => {
    expect(thrown(() => plan(cfg('cgroup_mem_swap_max: 0'), hybridV1())).message).toMatch(/^cgroup_mem_swap_max: cgroup v1 limits swap only together with memory/);
  });

  describe('net_cls (cgroup_net_cls_classid, _mount, _parent)', () => {
    const withNetCls = (at = '/sys/fs/cgroup/net_cls,net_prio') => {
      const facts = hybridV1({ fsTypes: { '/sys/fs/cgroup': 'tmpfs', '/sys/fs/cgroup/pids': 'cgroup', [at]: 'cgroup' }, dirs: [at] });
      facts.mounts.push({ path: at, version: 1, controllers: ['net_cls', 'net_prio'], root: '/', readOnly: false });
      return facts;
    };

    it('the classid is written in hex, as nsjail does, in the hierarchy that has net_cls, below its parent (golden)', async () => {
      const p = plan(configOfFlags(['--cgroup_net_cls_classid', '0x100001', '--cgroup_net_cls_parent', 'judge/net']), withNetCls());
      await expect(json(p)).toMatchFileSnapshot(golden('v1-net-cls'));
      const dir = `/sys/fs/cgroup/net_cls,net_prio/judge/net/${NAME}`;
      expect(p!.dirs).toContain(dir);
      expect(writes(p)).toContain(`${dir}/net_cls.classid = 0x100001`);
      expect(p!.attach).toContainEqual({ path: `${dir}/cgroup.procs`, content: '{pid}' });
    });

    it('cgroup_net_cls_mount picks the hierarchy; one without net_cls is refused', () => {
      const p = plan(cfg('cgroup_net_cls_classid: 5\ncgroup_net_cls_mount: "/cg/nc"'), withNetCls('/cg/nc'));
      expect(writes(p)).toContain(`/cg/nc/NSJAIL/${NAME}/net_cls.classid = 0x5`);
      const e = thrown(() => plan(cfg('cgroup_net_cls_classid: 5\ncgroup_net_cls_mount: "/sys/fs/cgroup/pids"'), withNetCls()));
      expect(e.message).toBe('cgroup_net_cls_mount: /sys/fs/cgroup/pids is the cgroup v1 hierarchy of pids, not of net_cls');
    });

    it('classid 0 (the default) uses no net_cls hierarchy, whatever the mount and parent say', () => {
      const p = plan(cfg('cgroup_net_cls_mount: "/nowhere"\ncgroup_net_cls_parent: "x"'), hybridV1());
      expect(p!.dirs.join()).not.toMatch(/net_cls|nowhere/);
    });

    it('a host without a net_cls hierarchy: an error naming the field, saying how to mount one', () => {
      const e = thrown(() => plan(cfg('cgroup_net_cls_classid: 5'), hybridV1()));
      expect(e.message).toBe('cgroup_net_cls_classid: no cgroup v1 hierarchy has the net_cls controller (none is mounted, see /proc/self/mountinfo)');
      expect(e.span).toMatchObject({ file: 'jail.cfg', line: 1, col: 1 });
      expect(e.hint).toBe(
        'mount it (mkdir -p /sys/fs/cgroup/net_cls && mount -t cgroup -o net_cls cgroup /sys/fs/cgroup/net_cls), or set cgroup_net_cls_mount to where it is mounted',
      );
      expect(thrown(() => plan(configOfFlags(['--cgroup_net_cls_classid', '5']), hybridV1())).message).toMatch(/^flag --cgroup_net_cls_classid: no cgroup v1 hierarchy has the net_cls controller/);
    });
  });

  it('a controller no hierarchy has: an error naming it, pointing at cgroup v2 when it lives there', () => {
    const facts = hybridV1({ files: { '/sys/fs/cgroup/unified/cgroup.controllers': 'pids hugetlb\n' } });
    facts.mounts = facts.mounts.filter((m) => m.path !== '/sys/fs/cgroup/pids');
    const e = thrown(() => plan(cfg('cgroup_pids_max: 10'), facts));
    expect(e.message).toBe('cgroup_pids_max: no cgroup v1 hierarchy has the pids controller (none is mounted, see /proc/self/mountinfo)');
    expect(e.hint).toBe('pids is on cgroup v2 at /sys/fs/cgroup/unified: set use_cgroupv2 and cgroupv2_mount: "/sys/fs/cgroup/unified"');
  });

  it('not root: no cgroup without limits; a limit is an error saying cgroup v1 is root-only', () => {
    const facts = () => hybridV1({ writable: () => false });
    expect(plan(cfg(''), facts(), 1000)).toBeNull();
    const e = thrown(() => plan(cfg('cgroup_mem_max: 1048576'), facts(), 1000));
    expect(e.message).toBe('cgroup_mem_max: cannot create cgroups in /sys/fs/cgroup/memory/NSJAIL: permission denied (jail runs as uid 1000)');
    expect(e.hint).toBe('cgroup v1 hierarchies belong to root: run jail as root');
  });

  it('in a container: a read-only cgroupfs, or root that does not own the cgroup, is named as the cause, never "run as root"', () => {
    const readOnly = hybridV1({ writable: () => false });
    for (const m of readOnly.mounts) m.readOnly = true;
    const ro = thrown(() => plan(cfg('cgroup_mem_max: 1048576'), readOnly, 0));
    expect(ro.message).toBe('cgroup_mem_max: cannot create cgroups in /sys/fs/cgroup/memory/NSJAIL: the cgroup filesystem at /sys/fs/cgroup/memory is mounted read-only');
    expect(ro.hint).toMatch(/writable cgroup/);
    expect(ro.hint).toMatch(/jail doctor/);
    const asRoot = thrown(() => plan(cfg('cgroup_mem_max: 1048576'), hybridV1({ writable: () => false }), 0));
    expect(asRoot.message).toMatch(/permission denied, although jail runs as uid 0: it is root in a user namespace that does not own this cgroup/);
    expect(asRoot.hint).not.toMatch(/run jail as root/);
  });
});

describe('cgroup v2', () => {
  it('root in the root cgroup: JAIL below the root, limits, oom.group, CLONE_INTO_CGROUP (golden)', async () => {
    const p = plan(configOfFlags(LIMITS), unifiedV2());
    await expect(json(p)).toMatchFileSnapshot(golden('v2-root'));
    const dir = `/sys/fs/cgroup/JAIL/${NAME}`;
    expect(p!.dirs).toEqual([dir]);
    expect(writes(p)).toEqual([
      '/sys/fs/cgroup/JAIL/cgroup.subtree_control = +memory',
      '/sys/fs/cgroup/JAIL/cgroup.subtree_control = +pids',
      '/sys/fs/cgroup/JAIL/cgroup.subtree_control = +cpu',
      `${dir}/memory.max = 268435456`,
      `${dir}/memory.swap.max = 0`,
      `${dir}/memory.oom.group = 1`,
      `${dir}/pids.max = 64`,
      `${dir}/cpu.max = 10000 100000`,
    ]);
    expect(p!.cloneInto).toBe(dir);
    expect(p!.attach).toEqual([]);
  });

  it('no limits: the controllers the base already enables, for accounting', () => {
    const p = plan(cfg(''), unifiedV2());
    expect(writes(p)).toEqual([
      '/sys/fs/cgroup/JAIL/cgroup.subtree_control = +memory',
      '/sys/fs/cgroup/JAIL/cgroup.subtree_control = +pids',
      '/sys/fs/cgroup/JAIL/cgroup.subtree_control = +cpu',
      `/sys/fs/cgroup/JAIL/${NAME}/memory.oom.group = 1`,
    ]);
  });

  it('a user in a delegated scope of its own: jails below the scope, controllers enabled on the way (golden)', async () => {
    const p = plan(configOfFlags(['--memory', '1G', '--pids', '256']), unifiedV2({ selfV2: USER_SCOPE }), 1000);
    await expect(json(p)).toMatchFileSnapshot(golden('v2-delegated'));
    const scope = `/sys/fs/cgroup${USER_SCOPE}`;
    expect(p!.dirs).toEqual([`${scope}/JAIL/${NAME}`]);
    expect(writes(p).slice(0, 4)).toEqual([
      `${scope}/cgroup.subtree_control = +memory`,
      `${scope}/cgroup.subtree_control = +pids`,
      `${scope}/JAIL/cgroup.subtree_control = +memory`,
      `${scope}/JAIL/cgroup.subtree_control = +pids`,
    ]);
  });

  it('root alone in its service: jails stay below it (the supervisor moves into a leaf when needed)', () => {
    const p = plan(cfg('cgroup_pids_max: 5'), unifiedV2({ selfV2: '/system.slice/jail.service' }));
    expect(p!.dirs).toEqual([`/sys/fs/cgroup/system.slice/jail.service/JAIL/${NAME}`]);
    expect(writes(p)[0]).toBe('/sys/fs/cgroup/system.slice/jail.service/cgroup.subtree_control = +pids');
  });

  it('a supervisor leaf of ours counts as the cgroup it was made in', () => {
    const self = `/system.slice/jail.service/JAIL/supervisor.${OWNER.pid}.${OWNER.start}.${OWNER.pidns}`;
    const p = plan(cfg('cgroup_pids_max: 5'), unifiedV2({ selfV2: self }));
    expect(p!.dirs).toEqual([`/sys/fs/cgroup/system.slice/jail.service/JAIL/${NAME}`]);
  });

  it('root sharing its cgroup with other processes: jails go to the top of the hierarchy', () => {
    const p = plan(cfg('cgroup_pids_max: 5'), unifiedV2({ selfV2: '/user.slice/user-1000.slice/session-3.scope' }));
    expect(p!.dirs).toEqual([`/sys/fs/cgroup/JAIL/${NAME}`]);
  });

  it('a user sharing its cgroup: limits cannot work there (no internal processes), and the error says why', () => {
    const facts = () => unifiedV2({ selfV2: '/user.slice/user-1000.slice/session-3.scope' });
    const e = thrown(() => plan(cfg('cgroup_pids_max: 5'), facts(), 1000));
    expect(e.code).toBe('cgroup');
    expect(e.message).toBe(
      'cannot enable pids in /sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cgroup.subtree_control: ' +
        '/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope holds other processes (pid 977, 1201), ' +
        'and cgroup v2 lets a cgroup enable controllers for its children only while it holds no processes itself',
    );
    expect(e.hint).toMatch(/^run jail in a cgroup of its own, e.g. systemd-run --scope -p Delegate=yes jail/);
    // Without limits nothing needs enabling: the jail still gets a cgroup there, to be killed and measured.
    expect(writes(plan(cfg(''), facts(), 1000))).toEqual([]);
    expect(plan(cfg(''), facts(), 1000)!.dirs).toEqual([`/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/JAIL/${NAME}`]);
  });

  it('not delegated: no cgroup without limits; with one, an error saying how to delegate', () => {
    const facts = () => unifiedV2({ selfV2: USER_SCOPE, writable: () => false });
    expect(plan(cfg(''), facts(), 1000)).toBeNull();
    const e = thrown(() => plan(cfg('cgroup_mem_max: 1048576'), facts(), 1000));
    expect(e.code).toBe('config');
    expect(e.message).toBe(`cgroup_mem_max: cannot create cgroups in /sys/fs/cgroup${USER_SCOPE}: permission denied (jail runs as uid 1000)`);
    expect(e.span).toMatchObject({ line: 1 });
    expect(e.hint).toBe('run as root, or delegate a cgroup to your user and run jail in it: systemd-run --user -p Delegate=yes --scope jail ...');
  });

  it('a controller the parent does not pass on: an error naming the controller, the file and the fix', () => {
    const scope = `/sys/fs/cgroup${USER_SCOPE}`;
    const e = thrown(() => plan(cfg('cgroup_mem_max: 1048576'), unifiedV2({ selfV2: USER_SCOPE, files: { [`${scope}/cgroup.controllers`]: 'cpu pids\n' } }), 1000));
    expect(e.message).toBe(`cgroup_mem_max: the memory controller is not available in ${scope} (its cgroup.controllers lists: cpu pids)`);
    expect(e.hint).toMatch(/\+memory in its cgroup.subtree_control/);
    expect(e.span).toMatchObject({ line: 1 });
  });

  it('use_cgroupv2 on a hybrid host: the controllers are busy in v1, and the error says so', () => {
    const e = thrown(() => plan(cfg('use_cgroupv2: true\ncgroup_pids_max: 10'), hybridV1()));
    expect(e.message).toBe('cgroup_pids_max: the pids controller is not available in /sys/fs/cgroup/unified (its cgroup.controllers lists: hugetlb)');
    expect(e.hint).toMatch(/^pids is in use by cgroup v1 \(\/sys\/fs\/cgroup\/pids\)/);
  });

  it('cgroupv2_mount names the parent; missing levels are created and pass the controllers on', () => {
    const p = plan(cfg('cgroupv2_mount: "/sys/fs/cgroup/system.slice/jails/a"\ncgroup_pids_max: 5'), unifiedV2());
    expect(p!.dirs).toEqual([`/sys/fs/cgroup/system.slice/jails/a/JAIL/${NAME}`]);
    expect(writes(p)).toEqual([
      '/sys/fs/cgroup/system.slice/jails/cgroup.subtree_control = +pids',
      '/sys/fs/cgroup/system.slice/jails/a/cgroup.subtree_control = +pids',
      '/sys/fs/cgroup/system.slice/jails/a/JAIL/cgroup.subtree_control = +pids',
      `/sys/fs/cgroup/system.slice/jails/a/JAIL/${NAME}/pids.max = 5`,
    ]);
  });

  it('with use_cgroupv2, a cgroupv2_mount outside cgroup2 is refused at its line (without, v1 ignores it, as nsjail)', () => {
    expect(plan(cfg('cgroupv2_mount: "/sys/fs/cgroup"'), hybridV1())!.version).toBe(1);
    const e = thrown(() => plan(cfg('cgroup_pids_max: 5\ncgroupv2_mount: "/sys/fs/cgroup"\nuse_cgroupv2: true'), hybridV1()));
    expect(e.message).toBe('cgroupv2_mount: /sys/fs/cgroup is not in a cgroup v2 filesystem (it is tmpfs)');
    expect(e.span).toMatchObject({ line: 2 });
  });

  it('before Linux 5.7 the child is attached through cgroup.procs instead of CLONE_INTO_CGROUP', () => {
    const p = plan(cfg(''), unifiedV2({ cloneIntoCgroup: false }));
    expect(p!.cloneInto).toBeNull();
    expect(p!.attach).toEqual([{ path: `/sys/fs/cgroup/JAIL/${NAME}/cgroup.procs`, content: '{pid}' }]);
  });

  it('net_cls is refused with a v2 alternative', () => {
    const e = thrown(() => plan(cfg('cgroup_net_cls_classid: 5'), unifiedV2()));
    expect(e.message).toBe('cgroup_net_cls_classid: net_cls exists in cgroup v1 only, and this jail uses cgroup v2');
    expect(e.hint).toMatch(/^on cgroup v2, drop it and match the jail's cgroup path in nftables instead/);
    expect(thrown(() => plan(cfg('cgroup_net_cls_classid: 5\nuse_cgroupv2: true'), hybridV1())).message).toBe(e.message);
  });
});

describe('errors name what the user wrote', () => {
  it('the flag, when a flag set the field', () => {
    const e = thrown(() => plan(configOfFlags(['--memory', '64M']), hybridV1({ writable: () => false }), 1000));
    expect(e.code).toBe('flag');
    expect(e.message).toBe('flag --memory: cannot create cgroups in /sys/fs/cgroup/memory/NSJAIL: permission denied (jail runs as uid 1000)');
  });
  it('the field and its line, when a config file did', () => {
    const e = thrown(() => plan(cfg('\ncgroup_pids_max: 9'), hybridV1({ writable: () => false }), 1000));
    expect(e.code).toBe('config');
    expect(e.message).toMatch(/^cgroup_pids_max: cannot create cgroups/);
    expect(e.span).toMatchObject({ file: 'jail.cfg', line: 2 });
  });
});
