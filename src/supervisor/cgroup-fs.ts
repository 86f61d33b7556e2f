/**
 * Creating, reading and removing cgroup directories through the addon, and saying in words what
 * went wrong with a cgroup file: which file, which controller, how to fix it.
 *
 * Directory listings are read with node:fs (reading is a host fact); every change under the
 * cgroup filesystem goes through the addon (DESIGN.md §2).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import type { NativeAddon } from '../native/types';
import { DELEGATE_HINT, V1_ROOT_HINT } from '../sandbox/cgroup-hints';
import { EACCES, EEXIST, EINVAL, ENOENT, ENOSPC, EPERM, EROFS, errnoName, errnoText } from './errno';


/** Deeper than any cgroup tree jail makes or meets; bounds the recursions below. */
const MAX_DEPTH = 32;

/** The controller a cgroup file belongs to ("memory.max" -> memory, "+pids" into subtree_control -> pids). */
function controllerOf(file: string, content: string): string | null {
  if (file === 'cgroup.subtree_control') return content.replace(/^[+-]/, '');
  const prefix = file.split('.')[0];
  return prefix === 'cgroup' ? null : prefix;
}

function permissionHint(version: 1 | 2): string {
  return version === 1 ? V1_ROOT_HINT : DELEGATE_HINT;
}

/** A failed mkdir/write/rmdir of a cgroup path, as a JailError('cgroup') with the usual fix. */
export function cgroupFileError(version: 1 | 2, op: 'create' | 'write', p: string, errno: number, content = ''): JailError {
  const file = path.basename(p);
  const controller = op === 'write' ? controllerOf(file, content) : null;
  const what = op === 'create' ? `cannot create cgroup ${p}` : `cannot write '${content}' to ${p}`;
  const details = { path: p, errno: errnoName(errno), controller };
  let hint: string | undefined;
  let why = errnoText(errno);
  if (errno === EACCES || errno === EPERM) {
    hint = permissionHint(version);
  } else if (errno === EROFS) {
    why += ': the cgroup filesystem is mounted read-only (a container without write access to its cgroup?)';
  } else if (errno === ENOENT && op === 'write' && file === 'memory.swap.max') {
    why += ': the kernel does not account swap';
    hint = 'boot it with swapaccount=1, or set cgroup_mem_swap_max: -1 to leave swap unlimited';
  } else if (errno === ENOENT && op === 'write' && controller !== null && file !== 'cgroup.subtree_control') {
    why += `: the ${controller} controller is not enabled for ${path.dirname(p)}`;
    hint = `enable it in the parent's cgroup.subtree_control (+${controller})`;
  } else if ((errno === ENOENT || errno === EINVAL) && file === 'cgroup.subtree_control') {
    why += `: the ${controller} controller is not available in ${path.dirname(p)}`;
  } else if (errno === EINVAL && op === 'write') {
    why += `: the kernel does not accept this value for ${file}`;
  } else if (errno === ENOSPC && op === 'create') {
    why += ': a cgroup.max.descendants or cgroup.max.depth limit above it is reached';
  }
  return new JailError('cgroup', `${what}: ${why}`, { hint, details });
}

/** mkdir of every missing directory above `dir` (parents are shared between jails and kept). */
function makeParents(addon: NativeAddon, dir: string, version: 1 | 2, depth = 0): void {
  let err = addon.cgroupMkdir(dir);
  if (err === ENOENT && depth < MAX_DEPTH && dir !== path.dirname(dir)) {
    makeParents(addon, path.dirname(dir), version, depth + 1);
    err = addon.cgroupMkdir(dir);
  }
  if (err !== 0 && err !== EEXIST) throw cgroupFileError(version, 'create', dir, err);
}

/** Creates a jail's own cgroup directory, and its missing parents. The name is unique: EEXIST is an error. */
export function makeJailDir(addon: NativeAddon, dir: string, version: 1 | 2): void {
  let err = addon.cgroupMkdir(dir);
  if (err === ENOENT) {
    makeParents(addon, path.dirname(dir), version);
    err = addon.cgroupMkdir(dir);
  }
  if (err !== 0) throw cgroupFileError(version, 'create', dir, err);
}

/** The pids in a cgroup's cgroup.procs ([] when it is gone). */
export function cgroupPids(addon: NativeAddon, dir: string): number[] {
  const [text] = addon.cgroupRead(path.join(dir, 'cgroup.procs'));
  return (text ?? '').split('\n').filter(Boolean).map(Number);
}

/** Sub-cgroups of `dir` (a jailed program with a writable cgroupfs could have made some). */
export function subCgroups(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

/** rmdir of `dir` and everything below it, deepest first; 0, or the first errno (ENOENT counts as done). */
export function removeCgroupTree(addon: NativeAddon, dir: string, depth = 0): number {
  let first = 0;
  if (depth < MAX_DEPTH) {
    for (const sub of subCgroups(dir)) first ||= removeCgroupTree(addon, sub, depth + 1);
  }
  const err = addon.cgroupRmdir(dir);
  return first || (err === ENOENT ? 0 : err);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Removes `dir` (and below), retrying while it is busy: a killed process leaves its cgroup a
 * moment after the signal. Resolves to 0 or the last errno once `timeoutMs` has passed.
 */
export async function removeCgroupTreeWithin(addon: NativeAddon, dir: string, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    const err = removeCgroupTree(addon, dir);
    if (err === 0 || Date.now() >= end) return err;
    await sleep(delay);
  }
}
