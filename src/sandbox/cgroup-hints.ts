/**
 * How to fix the usual cgroup problems, in one place for the planner and the supervisor.
 */

/** No permission on cgroup v2: root can do anything; a user needs a delegated subtree. */
export const DELEGATE_HINT =
  'run as root, or delegate a cgroup to your user and run jail in it: systemd-run --user -p Delegate=yes --scope jail ...';

/** cgroup v1 hierarchies are never delegated to users in practice. */
export const V1_ROOT_HINT = 'cgroup v1 hierarchies belong to root: run jail as root';

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
