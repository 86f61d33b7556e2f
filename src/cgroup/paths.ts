/**
 * Path helpers the cgroup planners share: where a configured parent lands, and which part of a
 * path already exists (the rest is created by the supervisor, and must be creatable).
 */
import * as path from 'node:path';
import type { LoadedConfig } from '../config/types';
import type { CgroupFacts } from './facts';
import { fieldError } from './limits';

/**
 * `<mount>/<parent>` for a `cgroup_*_parent` value: a relative path of plain names ("NSJAIL",
 * "judge/jails"; "" = the mount itself). A parent is only ever a place below the hierarchy:
 * '.' and '..' are refused so a config cannot point jails at an unrelated cgroup.
 */
export function parentDir(loaded: LoadedConfig, field: string, mount: string, parent: string): string {
  const parts = parent.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) {
    throw fieldError(loaded, field, `'${parent}' is not a cgroup below the hierarchy: use plain names, without '.' or '..'`);
  }
  return path.join(mount, ...parts);
}

/** The deepest existing directory on the way to `p` (p itself when it exists). */
export function nearestExisting(facts: CgroupFacts, p: string): string {
  let dir = p;
  while (!facts.exists(dir) && dir !== path.dirname(dir)) dir = path.dirname(dir);
  return dir;
}

/** Whether `p`, or the directory it would be created in, lets the caller create cgroups there. */
export function canCreateIn(facts: CgroupFacts, p: string): boolean {
  return facts.writable(nearestExisting(facts, p));
}
