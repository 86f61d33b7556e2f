/**
 * cgroup problems in words: how to fix the usual ones (for the planner and the session alike),
 * and what a failed mkdir or write of a cgroup file means — which file, which controller, why.
 */
import * as path from 'node:path';
import { JailError } from '../errors';
import type { CgroupMount } from './facts';
import { EACCES, EINVAL, ENOENT, ENOSPC, EPERM, EROFS, errnoName, errnoText } from '../supervisor/errno';

/** No permission on cgroup v2: root can do anything; a user needs a delegated subtree. */
const DELEGATE_HINT =
  'run as root, or delegate a cgroup to your user and run jail in it: systemd-run --user -p Delegate=yes --scope jail ...';

/** cgroup v1 hierarchies are never delegated to users in practice. */
const V1_ROOT_HINT = 'cgroup v1 hierarchies belong to root: run jail as root';

/** Container runtimes mount cgroupfs read-only unless told otherwise. */
const READ_ONLY_HINT =
  "give the container a writable cgroup (a runtime that delegates one to it, or --privileged), or drop the cgroup limits; 'jail doctor' shows what works in this container";

/**
 * Why jail cannot create its cgroups in `dir`, in words that name the true cause: a read-only
 * cgroup filesystem (the usual case in a container, root or not), root that is root only in a
 * user namespace which does not own the cgroup, or an ordinary user without delegation.
 */
export function cannotCreateCgroups(mounts: CgroupMount[], dir: string, euid: number, version: 1 | 2): { message: string; hint: string } {
  const mount = mounts
    .filter((m) => dir === m.path || dir.startsWith(m.path + '/'))
    .sort((a, b) => b.path.length - a.path.length)[0];
  const what = `cannot create cgroups in ${dir}`;
  if (mount?.readOnly) return { message: `${what}: the cgroup filesystem at ${mount.path} is mounted read-only`, hint: READ_ONLY_HINT };
  if (euid === 0) {
    return {
      message: `${what}: permission denied, although jail runs as uid 0: it is root in a user namespace that does not own this cgroup (a rootless container?)`,
      hint: version === 1 ? READ_ONLY_HINT : `${DELEGATE_HINT}; in a container: ${READ_ONLY_HINT}`,
    };
  }
  return { message: `${what}: permission denied (jail runs as uid ${euid})`, hint: permissionHint(version) };
}

/** A cgroup v2 with processes in it cannot enable controllers for its children. */
export const OWN_CGROUP_HINT =
  'run jail in a cgroup of its own, e.g. systemd-run --scope -p Delegate=yes jail ... (add --user when not root), ' +
  'or name another parent with cgroupv2_mount';

/**
 * cgroup v2's "no internal processes" rule: a cgroup other than the root that holds processes
 * cannot enable controllers for its children, so jail's limits cannot be set up below it.
 */
export function internalProcessesMessage(dir: string, controllers: string[], pids: number[]): string {
  const shown = pids.slice(0, 8).join(', ') + (pids.length > 8 ? ', ...' : '');
  return (
    `cannot enable ${controllers.join(', ')} in ${dir}/cgroup.subtree_control: ${dir} holds other processes (pid ${shown}), ` +
    'and cgroup v2 lets a cgroup enable controllers for its children only while it holds no processes itself'
  );
}

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
