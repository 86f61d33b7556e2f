/**
 * The cgroup limits a config asks for, in numbers both cgroup versions can be written from.
 *
 * Swap: nsjail leaves swap unlimited unless told otherwise (cgroup_mem_swap_max -1), so on a host
 * with swap a memory limit only moves the jail's memory to swap (snekbox#31). Here a memory limit
 * also limits swap to 0 unless the config says otherwise: an explicit cgroup_mem_swap_max (-1
 * keeps swap unlimited, as nsjail) or cgroup_mem_memsw_max (memory + swap, as nsjail).
 */
import { JailError } from '../errors';
import type { LoadedConfig } from '../config/types';

export interface CgroupLimits {
  /** Bytes of memory (memory.max, memory.limit_in_bytes); 0 = no limit. */
  memoryBytes: number;
  /** Bytes of swap the jail may use, or null for no swap limit. `implicit`: not asked for. */
  swap: { bytes: number; implicit: boolean } | null;
  /** Most processes and threads (pids.max); 0 = no limit. */
  pids: number;
  /** CFS bandwidth: `quotaUs` of CPU time per `periodUs` of wall time, or null. */
  cpu: { quotaUs: number; periodUs: number } | null;
  /** net_cls.classid (cgroup v1); 0 = none. */
  netClsClassid: number;
}

/** Controllers a limit needs (memory, pids, cpu, net_cls), each mapped to the config field that asked for it (for error spans). */
export type NeededControllers = Map<string, string>;

/** The kernel's default CFS period (100 ms) keeps throttling fine-grained; 1 s is its maximum. */
const PERIOD_US = 100_000;
const LONG_PERIOD_US = 1_000_000;
/** The kernel refuses quotas below 1 ms. */
const MIN_QUOTA_US = 1_000;

/** A problem with a cgroup field, reported against the flag or the file line that set it. */
export function fieldError(loaded: LoadedConfig, field: string, message: string, hint?: string): JailError {
  const flag = loaded.flags?.get(field);
  if (flag) return new JailError('flag', `flag ${flag}: ${message}`, { hint });
  return new JailError('config', `${field}: ${message}`, { span: loaded.spans.get(field), hint });
}

/**
 * cgroup_cpu_ms_per_sec -> quota/period. nsjail uses a 1 s period, which lets a jail run a full
 * 100 ms burst at 10% and then stall for 900 ms; a 100 ms period gives the same share in steps
 * of 10 ms. Below 10 ms per second the quota would fall under the kernel's 1 ms minimum, so
 * those use the 1 s period.
 */
export function cpuBandwidth(msPerSec: number): { quotaUs: number; periodUs: number } {
  const quotaUs = (msPerSec * PERIOD_US) / 1000;
  if (quotaUs >= MIN_QUOTA_US) return { quotaUs, periodUs: PERIOD_US };
  return { quotaUs: msPerSec * 1000, periodUs: LONG_PERIOD_US };
}

export function cgroupLimits(loaded: LoadedConfig): CgroupLimits {
  const c = loaded.config;
  const mem = c.cgroupMemMax;
  let swap: CgroupLimits['swap'] = null;
  if (c.cgroupMemMemswMax > 0) {
    if (mem === 0) {
      throw fieldError(loaded, 'cgroup_mem_memsw_max', 'a memory + swap limit needs a memory limit too', 'set cgroup_mem_max (--memory), or limit swap alone with cgroup_mem_swap_max');
    }
    if (c.cgroupMemMemswMax < mem) {
      throw fieldError(loaded, 'cgroup_mem_memsw_max', `${c.cgroupMemMemswMax} is less than cgroup_mem_max (${mem}): it counts memory and swap together`);
    }
    swap = { bytes: c.cgroupMemMemswMax - mem, implicit: false };
  } else if (c.cgroupMemSwapMax >= 0) {
    swap = { bytes: c.cgroupMemSwapMax, implicit: false };
  } else if (mem > 0 && !loaded.setFields.has('cgroup_mem_swap_max')) {
    swap = { bytes: 0, implicit: true };
  }
  return {
    memoryBytes: mem,
    swap,
    pids: c.cgroupPidsMax,
    cpu: c.cgroupCpuMsPerSec > 0 ? cpuBandwidth(c.cgroupCpuMsPerSec) : null,
    netClsClassid: c.cgroupNetClsClassid,
  };
}

/** Which controllers the limits need, each with the field that asked for it. */
export function neededControllers(loaded: LoadedConfig, limits: CgroupLimits): NeededControllers {
  const c = loaded.config;
  const out: NeededControllers = new Map();
  if (limits.memoryBytes > 0) out.set('memory', 'cgroup_mem_max');
  else if (limits.swap) out.set('memory', c.cgroupMemMemswMax > 0 ? 'cgroup_mem_memsw_max' : 'cgroup_mem_swap_max');
  if (limits.pids > 0) out.set('pids', 'cgroup_pids_max');
  if (limits.cpu) out.set('cpu', 'cgroup_cpu_ms_per_sec');
  if (limits.netClsClassid > 0) out.set('net_cls', 'cgroup_net_cls_classid');
  return out;
}
