/**
 * The one place that changes the cgroup filesystem from TypeScript: every mkdir, write and rmdir
 * under a cgroup mount goes through the functions here, and they go through the addon
 * (docs/architecture.md §2). The only other cgroup write is the addon's attach of the child between clone and go byte
 * (see index.ts). Reading (files, directory listings) is done wherever it is needed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NativeAddon } from '../native/types';
import { EEXIST, ENOENT } from '../supervisor/errno';
import { cgroupFileError } from './errors';

/** Deeper than any cgroup tree jail makes or meets; bounds the recursions below. */
const MAX_DEPTH = 32;

/**
 * Parents this process created for its jails' cgroups, with how many of its jails are in each.
 * A parent is removed once the last of them is done with it and it is empty. One that a jail of
 * another process still uses (EBUSY) stays, and the next jail here to use it tries again. Parents
 * that were there before (an admin's NSJAIL) are never removed.
 */
const ownParents = new Map<string, number>();

/** mkdir of `dir` and every missing directory above it; notes the ones it created. */
function makeParents(addon: NativeAddon, dir: string, version: 1 | 2, depth = 0): void {
  let err = addon.cgroupMkdir(dir);
  if (err === ENOENT && depth < MAX_DEPTH && dir !== path.dirname(dir)) {
    makeParents(addon, path.dirname(dir), version, depth + 1);
    err = addon.cgroupMkdir(dir);
  }
  if (err === 0) ownParents.set(dir, 0);
  else if (err !== EEXIST) throw cgroupFileError(version, 'create', dir, err);
}

/**
 * Creates a jail's own cgroup directory, and its missing parents. The name is unique: EEXIST is
 * an error. Returns the parents of this process's making that the jail is in: hand them to
 * releaseParents() once the jail's directory is removed.
 */
export function makeJailDir(addon: NativeAddon, dir: string, version: 1 | 2): string[] {
  let err = addon.cgroupMkdir(dir);
  // Again when a parent vanishes in between: another jail supervisor just removed it, empty.
  for (let attempt = 0; err === ENOENT && attempt < 3; attempt++) {
    makeParents(addon, path.dirname(dir), version);
    err = addon.cgroupMkdir(dir);
  }
  if (err !== 0) throw cgroupFileError(version, 'create', dir, err);
  const used: string[] = [];
  for (let p = path.dirname(dir); p !== path.dirname(p); p = path.dirname(p)) {
    const users = ownParents.get(p);
    if (users === undefined) continue;
    ownParents.set(p, users + 1);
    used.push(p);
  }
  return used;
}

/** One jail is done with `parents` (from makeJailDir): those no other jail here uses are removed when empty, deepest first. */
export function releaseParents(addon: NativeAddon, parents: string[]): void {
  for (const p of [...parents].sort((a, b) => b.length - a.length)) {
    const users = (ownParents.get(p) ?? 1) - 1;
    ownParents.set(p, users);
    if (users > 0) continue;
    const err = addon.cgroupRmdir(p);
    if (err === 0 || err === ENOENT) ownParents.delete(p);
  }
}

/** One write(2) of `content` to a cgroup file (cgroup files take one value per write); 0 or an errno. */
export function writeCgroupFile(addon: NativeAddon, file: string, content: string): number {
  return addon.cgroupWrite(file, content);
}

/** mkdir of one cgroup; 0 or an errno (EEXIST included, for the caller to judge). */
export function makeCgroupDir(addon: NativeAddon, dir: string): number {
  return addon.cgroupMkdir(dir);
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
