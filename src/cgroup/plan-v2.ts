/**
 * The jail's cgroup on cgroup v2: `<base>/JAIL/<name>`, one directory in the unified hierarchy.
 *
 * The base:
 *  - `cgroupv2_mount` when the config sets it (nsjail's field: the directory jails are made in);
 *  - otherwise the caller's own cgroup, so jails stay inside whatever limits the caller is under
 *    and an ordinary user works inside the subtree systemd delegated to them. A supervisor leaf
 *    the caller moved itself into earlier counts as its old cgroup. One exception: root whose
 *    cgroup holds other processes too (a login shell's session scope, a test runner) could not
 *    enable controllers there, so its jails go to the top of the hierarchy, where nsjail puts
 *    them (the root cgroup is exempt from the no-internal-processes rule).
 *
 * Controllers: the ones the limits need are enabled in the base's cgroup.subtree_control (when
 * not yet) and in every level below it; the ones the base already enables are enabled for the
 * jail too, for accounting. Should the base still hold the caller itself, the supervisor moves
 * into a leaf of its own when that write fails (see move.ts).
 *
 * The child is cloned straight into its cgroup (CLONE_INTO_CGROUP, Linux >= 5.7), so it never
 * runs a single instruction outside it; older kernels attach it before the go byte instead.
 * memory.oom.group makes an OOM kill take the whole jail, not one process of it.
 */
import * as path from 'node:path';
import { JailError } from '../errors';
import type { LoadedConfig } from '../config/types';
import type { CgroupFacts, CgroupMount } from './facts';
import { cannotCreateCgroups, internalProcessesMessage, OWN_CGROUP_HINT } from './errors';
import { fieldError, type CgroupLimits, type NeededControllers } from './limits';
import { jailCgroupName, parseCgroupName, V2_GROUP } from './name';
import { nearestExisting } from './paths';
import type { CgroupPlan } from './plan';

/** The controllers jail sets limits with and reads accounting from, in write order. */
const CONTROLLERS = ['memory', 'pids', 'cpu'];

function words(text: string | null): string[] {
  return (text ?? '').split(/\s+/).filter(Boolean);
}

function isRootCgroup(facts: CgroupFacts, dir: string): boolean {
  // Every cgroup but the root has cgroup.type.
  return !facts.exists(path.join(dir, 'cgroup.type'));
}

function otherProcesses(facts: CgroupFacts, dir: string): number[] {
  return words(facts.read(path.join(dir, 'cgroup.procs')))
    .map(Number)
    .filter((pid) => pid !== facts.owner.pid);
}

/** The cgroup2 mount to find the caller's cgroup in: cgroupv2_mount's default if it is one, else the first. */
function findMount(loaded: LoadedConfig, facts: CgroupFacts): CgroupMount | undefined {
  const v2 = facts.mounts.filter((m) => m.version === 2);
  return v2.find((m) => m.path === loaded.config.cgroupv2Mount) ?? v2[0];
}

function autoBase(facts: CgroupFacts, mount: CgroupMount, euid: number): string {
  const self = facts.selfV2;
  const rel = self !== null ? path.posix.relative(mount.root, self) : '..';
  // The caller's cgroup is not visible under this mount (another cgroup namespace's view).
  if (rel.startsWith('..')) return mount.path;
  let own = path.join(mount.path, rel);
  if (parseCgroupName(path.basename(own))?.kind === 'supervisor' && path.basename(path.dirname(own)) === V2_GROUP) {
    own = path.dirname(path.dirname(own));
  }
  if (euid === 0 && !isRootCgroup(facts, own) && otherProcesses(facts, own).length > 0 && isRootCgroup(facts, mount.path)) {
    return mount.path;
  }
  return own;
}

function chooseBase(loaded: LoadedConfig, facts: CgroupFacts, needed: NeededControllers, euid: number): string | null {
  if (loaded.setFields.has('cgroupv2_mount')) {
    const base = loaded.config.cgroupv2Mount;
    const type = facts.fsType(nearestExisting(facts, base));
    if (type !== 'cgroup2') {
      throw fieldError(loaded, 'cgroupv2_mount', `${base} is not in a cgroup v2 filesystem (${type === null ? 'nothing is there' : `it is ${type}`})`);
    }
    return base;
  }
  const mount = findMount(loaded, facts);
  if (mount) return autoBase(facts, mount, euid);
  const field = loaded.config.useCgroupv2 ? 'use_cgroupv2' : needed.values().next().value;
  if (field === undefined) return null;
  throw fieldError(loaded, field, 'no cgroup v2 filesystem is mounted (see /proc/self/mountinfo)');
}

function controllerMissing(loaded: LoadedConfig, facts: CgroupFacts, field: string, controller: string, dir: string, available: string[]): JailError {
  const onV1 = facts.mounts.find((m) => m.version === 1 && m.controllers.includes(controller));
  const hint = onV1
    ? `${controller} is in use by cgroup v1 (${onV1.path}), and a controller works in one version only: leave use_cgroupv2 and cgroupv2_mount unset to use cgroup v1`
    : `the cgroup above it has to enable it (+${controller} in its cgroup.subtree_control); for a systemd user session: systemctl edit user@.service, Delegate=cpu memory pids`;
  return fieldError(loaded, field, `the ${controller} controller is not available in ${dir} (its cgroup.controllers lists: ${available.join(' ') || 'nothing'})`, hint);
}

export function planCgroupV2(loaded: LoadedConfig, facts: CgroupFacts, limits: CgroupLimits, needed: NeededControllers, euid: number): CgroupPlan | null {
  const netCls = needed.get('net_cls');
  if (netCls !== undefined) {
    throw fieldError(
      loaded,
      netCls,
      'net_cls exists in cgroup v1 only, and this jail uses cgroup v2',
      'on cgroup v2, drop it and match the jail\'s cgroup path in nftables instead (socket cgroupv2 level N "JAIL/..."); on a host with cgroup v1 hierarchies, leave use_cgroupv2 and detect_cgroupv2 unset',
    );
  }
  const base = chooseBase(loaded, facts, needed, euid);
  if (base === null) return null;
  const group = path.join(base, V2_GROUP);
  // The existing cgroup everything else is created below: normally the base itself.
  const top = nearestExisting(facts, base);
  const createIn = nearestExisting(facts, group);
  if (!facts.writable(createIn)) {
    const field = needed.values().next().value;
    if (field === undefined) return null;
    const { message, hint } = cannotCreateCgroups(facts.mounts, createIn, euid, 2);
    throw fieldError(loaded, field, message, hint);
  }

  const available = words(facts.read(path.join(top, 'cgroup.controllers')));
  const enabled = words(facts.read(path.join(top, 'cgroup.subtree_control')));
  for (const [controller, field] of needed) {
    if (!available.includes(controller)) throw controllerMissing(loaded, facts, field, controller, top, available);
  }
  const toEnable = CONTROLLERS.filter((c) => needed.has(c) && !enabled.includes(c));
  const others = toEnable.length > 0 && !isRootCgroup(facts, top) ? otherProcesses(facts, top) : [];
  if (others.length > 0) {
    throw new JailError('cgroup', internalProcessesMessage(top, toEnable, others), { hint: OWN_CGROUP_HINT });
  }
  const wanted = CONTROLLERS.filter((c) => needed.has(c) || (top === base && enabled.includes(c)));

  const dir = path.join(group, jailCgroupName(facts.owner, facts.nextSequence()));
  const setup: CgroupPlan['setup'] = [];
  const w = (d: string, file: string, content: string | number) => setup.push({ path: path.join(d, file), content: String(content) });
  for (const c of toEnable) w(top, 'cgroup.subtree_control', `+${c}`);
  // Every level created below `top`, down to JAIL itself, passes the controllers on.
  let level = top;
  for (const part of path.relative(top, group).split(path.sep)) {
    level = path.join(level, part);
    for (const c of wanted) w(level, 'cgroup.subtree_control', `+${c}`);
  }
  if (limits.memoryBytes > 0) w(dir, 'memory.max', limits.memoryBytes);
  if (limits.swap) w(dir, 'memory.swap.max', limits.swap.bytes);
  if (wanted.includes('memory')) w(dir, 'memory.oom.group', 1);
  if (limits.pids > 0) w(dir, 'pids.max', limits.pids);
  if (limits.cpu) w(dir, 'cpu.max', `${limits.cpu.quotaUs} ${limits.cpu.periodUs}`);

  return {
    version: 2,
    dirs: [dir],
    setup,
    attach: facts.cloneIntoCgroup ? [] : [{ path: path.join(dir, 'cgroup.procs'), content: '{pid}' }],
    cloneInto: facts.cloneIntoCgroup ? dir : null,
  };
}
