/**
 * The values behind the cgroup limits: sizes (`--memory 1G`), Docker-style flags mapped onto
 * nsjail's fields, swap semantics, CPU bandwidth, cgroup names, and the parsers of /proc files.
 */
import { describe, expect, it } from 'vitest';
import { formatSize, parseSize } from '../../../src/config/size';
import { parseConfigText } from '../../../src/config/load';
import { JailError } from '../../../src/errors';
import {
  kernelHasCloneIntoCgroup,
  parseCgroupMounts,
  parsePidnsLink,
  parseSelfV2,
  parseStartTime,
} from '../../../src/cgroup/facts';
import { cgroupLimits, cpuBandwidth, neededControllers } from '../../../src/cgroup/limits';
import { jailCgroupName, parseCgroupName, supervisorLeafName } from '../../../src/cgroup/name';
import { configOfFlags } from './flags';
import { OWNER } from './fake-cgroups';

describe('sizes', () => {
  it.each([
    ['1G', 1073741824],
    ['1GiB', 1073741824],
    ['1gb', 1073741824],
    ['512M', 536870912],
    ['256m', 268435456],
    ['1.5G', 1610612736],
    ['64K', 65536],
    ['1048576', 1048576],
    ['512B', 512],
  ])('%s = %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', '1X', 'G', '-1G', '1 GG', '1iB'])('%j is refused, naming what is accepted', (text) => {
    expect(() => parseSize(text)).toThrow(/expected bytes, or a number with a unit K, M, G, T/);
  });

  it.each([
    [1073741824, '1 GiB'],
    [268435456, '256 MiB'],
    [1610612736, '1.5 GiB'],
    [1000, '1000 bytes'],
    [1024, '1 KiB'],
    [1_000_000_000, '953.67 MiB'],
  ])('formatSize(%d) = %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

describe("Docker-style flags set nsjail's fields", () => {
  it('--memory 1G -> cgroup_mem_max 1073741824', () => {
    expect(configOfFlags(['--memory', '1G']).config.cgroupMemMax).toBe(1073741824);
  });
  it('--cgroup_mem_max takes sizes and bytes', () => {
    expect(configOfFlags(['--cgroup_mem_max', '512M']).config.cgroupMemMax).toBe(536870912);
    expect(configOfFlags(['--cgroup_mem_max', '1048576']).config.cgroupMemMax).toBe(1048576);
  });
  it('--pids 256 -> cgroup_pids_max 256', () => {
    expect(configOfFlags(['--pids', '256']).config.cgroupPidsMax).toBe(256);
  });
  it('--cpus 0.5 -> cgroup_cpu_ms_per_sec 500; --cpus 2 -> 2000', () => {
    expect(configOfFlags(['--cpus', '0.5']).config.cgroupCpuMsPerSec).toBe(500);
    expect(configOfFlags(['--cpus', '2']).config.cgroupCpuMsPerSec).toBe(2000);
  });
  it('--cgroup_mem_swap_max -1 is "no swap limit", sizes otherwise', () => {
    expect(configOfFlags(['--cgroup_mem_swap_max', '-1']).config.cgroupMemSwapMax).toBe(-1);
    expect(configOfFlags(['--cgroup_mem_swap_max', '64M']).config.cgroupMemSwapMax).toBe(67108864);
  });
  it('bad values are flag errors', () => {
    expect(() => configOfFlags(['--memory', 'lots'])).toThrow(JailError);
    expect(() => configOfFlags(['--cpus', '0'])).toThrow(JailError);
  });
});

describe('limits', () => {
  const limits = (text: string) => {
    const loaded = parseConfigText(text, 'limits.cfg');
    return { limits: cgroupLimits(loaded), needed: Object.fromEntries(neededControllers(loaded, cgroupLimits(loaded))) };
  };

  it('a memory limit alone also limits swap to 0 (implicitly)', () => {
    expect(limits('cgroup_mem_max: 1024').limits.swap).toEqual({ bytes: 0, implicit: true });
  });
  it('cgroup_mem_swap_max: -1 given explicitly keeps swap unlimited (nsjail)', () => {
    expect(limits('cgroup_mem_max: 1024\ncgroup_mem_swap_max: -1').limits.swap).toBeNull();
  });
  it('cgroup_mem_swap_max sets swap; memsw sets memory + swap', () => {
    expect(limits('cgroup_mem_max: 1024\ncgroup_mem_swap_max: 512').limits.swap).toEqual({ bytes: 512, implicit: false });
    expect(limits('cgroup_mem_max: 1024\ncgroup_mem_memsw_max: 4096').limits.swap).toEqual({ bytes: 3072, implicit: false });
  });
  it('no memory limit, no swap limit', () => {
    expect(limits('cgroup_pids_max: 5').limits.swap).toBeNull();
  });
  it('memsw without a memory limit, or below it, is an error on the field', () => {
    const e1 = (() => {
      try {
        limits('cgroup_mem_memsw_max: 4096');
      } catch (e) {
        return e as JailError;
      }
    })();
    expect(e1?.message).toMatch(/^cgroup_mem_memsw_max: a memory \+ swap limit needs a memory limit too/);
    expect(e1?.span).toMatchObject({ file: 'limits.cfg', line: 1 });
    expect(() => limits('cgroup_mem_max: 8192\ncgroup_mem_memsw_max: 4096')).toThrow(/less than cgroup_mem_max/);
  });
  it('needed controllers name the field that asked', () => {
    expect(limits('cgroup_mem_max: 1\ncgroup_pids_max: 2\ncgroup_cpu_ms_per_sec: 3\ncgroup_net_cls_classid: 4').needed).toEqual({
      memory: 'cgroup_mem_max',
      pids: 'cgroup_pids_max',
      cpu: 'cgroup_cpu_ms_per_sec',
      net_cls: 'cgroup_net_cls_classid',
    });
    expect(limits('cgroup_mem_swap_max: 0').needed).toEqual({ memory: 'cgroup_mem_swap_max' });
  });

  it.each([
    [100, { quotaUs: 10000, periodUs: 100000 }],
    [500, { quotaUs: 50000, periodUs: 100000 }],
    [2500, { quotaUs: 250000, periodUs: 100000 }],
    [10, { quotaUs: 1000, periodUs: 100000 }],
    [5, { quotaUs: 5000, periodUs: 1000000 }],
    [1, { quotaUs: 1000, periodUs: 1000000 }],
  ])('cpu %d ms/s -> %j', (ms, bw) => {
    expect(cpuBandwidth(ms)).toEqual(bw);
  });
});

describe('cgroup names', () => {
  it('a jail is <pid>.<start>.<pidns>.<seq>, a supervisor leaf supervisor.<pid>.<start>.<pidns>', () => {
    expect(jailCgroupName(OWNER, 7)).toBe('4242.1000.4026531836.7');
    expect(supervisorLeafName(OWNER)).toBe('supervisor.4242.1000.4026531836');
    expect(parseCgroupName('4242.1000.4026531836.7')).toEqual({ kind: 'jail', owner: OWNER });
    expect(parseCgroupName('supervisor.4242.1000.4026531836')).toEqual({ kind: 'supervisor', owner: OWNER });
  });
  it.each(['NSJAIL.4242', 'NSJAIL', 'JAIL', '4242.0', '4242.1.2', 'supervisor.1.2', 'x.1.2.3', '1.2.3.4.5', 'memory.max'])('%s is not ours', (name) => {
    expect(parseCgroupName(name)).toBeNull();
  });
});

describe('host parsers', () => {
  it('mountinfo of a hybrid host: v1 controllers per mount, cgroup2 unified', () => {
    const text = [
      '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
      '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory',
      '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
      '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
      '41 30 0:38 /docker/abc /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw',
      '42 30 0:39 / /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids',
    ].join('\n');
    expect(parseCgroupMounts(text)).toEqual([
      { path: '/sys/fs/cgroup/cpu,cpuacct', version: 1, controllers: ['cpu', 'cpuacct'], root: '/', readOnly: false },
      { path: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'], root: '/', readOnly: false },
      { path: '/sys/fs/cgroup/systemd', version: 1, controllers: [], root: '/', readOnly: false },
      { path: '/sys/fs/cgroup/unified', version: 2, controllers: [], root: '/', readOnly: false },
      { path: '/mnt/my cgroup', version: 2, controllers: [], root: '/docker/abc', readOnly: false },
      // A container's cgroupfs: read-only per mount, whatever the super options say.
      { path: '/sys/fs/cgroup/pids', version: 1, controllers: ['pids'], root: '/', readOnly: true },
    ]);
  });
  it('/proc/self/cgroup: the 0:: line', () => {
    expect(parseSelfV2('9:name=systemd:/\n4:memory:/a/b\n0::/user.slice/x.scope\n')).toBe('/user.slice/x.scope');
    expect(parseSelfV2('4:memory:/a/b\n')).toBeNull();
  });
  it('/proc/PID/stat start time, with a command name holding spaces and parentheses', () => {
    const rest = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456 19 20';
    expect(parseStartTime(`77 (a) b (c) ${rest}`)).toBe(123456);
    expect(parseStartTime('77 (x) S')).toBeNull();
  });
  it('pid namespace links and kernel releases', () => {
    expect(parsePidnsLink('pid:[4026531836]')).toBe(4026531836);
    expect(parsePidnsLink('net:[1]')).toBeNull();
    expect(kernelHasCloneIntoCgroup('6.1.0-56-amd64')).toBe(true);
    expect(kernelHasCloneIntoCgroup('5.7.0')).toBe(true);
    expect(kernelHasCloneIntoCgroup('5.6.19')).toBe(false);
    expect(kernelHasCloneIntoCgroup('4.19.0-20-amd64')).toBe(false);
  });
});
