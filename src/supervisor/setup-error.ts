/**
 * Turns the addon's {stage, opIndex, errno} into a sentence in the user's words: the addon
 * knows only which step failed; the plan and its mount entries say what that step was.
 */
import type { PlannedJail } from '../sandbox';
import type { SetupFailure } from '../native/types';
import { errnoName, errnoText } from './errno';
import type { SetupError } from './report';

const ENOENT = 2;
const EACCES = 13;
const EPERM = 1;
const EROFS = 30;
const EINVAL = 22;
const ENOTDIR = 20;
const ENOEXEC = 8;

function describeMountOp(planned: PlannedJail, opIndex: number): string {
  const op = planned.plan.mounts[opIndex];
  if (!op) return `mount step ${opIndex}`;
  const entry = op.ref >= 0 ? planned.mounts[op.ref]?.describe : undefined;
  const what: Record<string, string> = {
    mount: 'mount',
    mkdirs: 'creating the mount point',
    mkfile: 'creating the mount point file',
    symlink: 'creating the symlink',
    write: 'writing the file content',
    remount: 'remounting',
    setattr: 'setting mount flags',
    umount: 'unmounting',
    unlink: 'removing a staging file',
    pivot: 'pivot_root into the new root',
    moveRoot: 'moving the new root (--no_pivotroot)',
    chroot: 'chroot',
  };
  const step = what[op.op] ?? op.op;
  const target = 'path' in op ? op.path : 'target' in op ? op.target : 'newRoot' in op ? op.newRoot : '';
  return entry ? `${entry}: ${step} ${target}` : `${step} ${target}`;
}

function mountHint(planned: PlannedJail, opIndex: number, errno: number): string | undefined {
  const op = planned.plan.mounts[opIndex];
  if (errno === EROFS && op && (op.op === 'mkdirs' || op.op === 'mkfile' || op.op === 'symlink')) {
    return 'the mount point does not exist and its parent is read-only in the jail: create it on the host, or mount a tmpfs over a parent directory first';
  }
  if (errno === EACCES) return "the jail's user cannot reach the source: check the permissions of every directory on the path (e.g. chmod o+x)";
  if (errno === EPERM && op?.op === 'mount') return 'the kernel refused this mount in a user namespace (only some filesystem types may be mounted there)';
  if (errno === ENOENT) return 'a path does not exist: check the source on the host and the destination in the jail';
  if (errno === ENOTDIR) return 'a file is mounted where a directory is needed, or the other way round (see is_dir)';
  return undefined;
}

export function describeSetupFailure(planned: PlannedJail, f: SetupFailure): SetupError {
  const errno = errnoName(f.errno);
  const why = errnoText(f.errno);
  const plan = planned.plan;
  let message: string;
  let hint: string | undefined;
  switch (f.stage) {
    case 'mount':
      message = `${describeMountOp(planned, f.opIndex)}: ${why}`;
      hint = mountHint(planned, f.opIndex, f.errno);
      break;
    case 'execve':
      message = `execve '${plan.exec.path}' failed inside the jail: ${why}`;
      if (f.errno === ENOENT) {
        hint =
          plan.mounts.length <= 3
            ? "the jail's root is an empty tmpfs: add --chroot / or mount the program and its libraries (-R /usr -R /lib ...)"
            : 'the program (or its interpreter or libraries) is not visible inside the jail: mount the directories it needs';
      } else if (f.errno === EACCES) hint = 'the file is not executable by the jail user, or sits on a noexec mount';
      else if (f.errno === ENOEXEC) hint = 'the file is not a binary the kernel can run (missing #! line?)';
      break;
    case 'idmap':
      message = `writing the user namespace id maps failed (${['setgroups', 'gid_map', 'uid_map', 'newgidmap', 'newuidmap'][f.opIndex] ?? 'map'}): ${why}`;
      hint = f.errno === EPERM ? 'unprivileged users may map only their own uid/gid; use -U/-G with /etc/subuid ranges, or run as root' : undefined;
      break;
    case 'clone':
      message = `clone of the jail process failed: ${why}`;
      if (f.errno === EPERM || f.errno === EINVAL || f.errno === 28 /* ENOSPC */) {
        hint =
          'user namespaces may be disabled or restricted here: check sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, and AppArmor (kernel.apparmor_restrict_unprivileged_userns on Ubuntu)';
      }
      break;
    case 'cgroup':
      message = `adding the jail to its cgroup failed (${plan.cgroup?.attach[f.opIndex]?.path ?? 'cgroup file'}): ${why}`;
      break;
    case 'rlimit': {
      const rl = plan.rlimits[f.opIndex];
      message = `setting rlimit ${rl ? rl.resource : '?'} to ${rl ? rl.cur : '?'} failed: ${why}`;
      break;
    }
    case 'caps':
      message = `dropping capabilities failed${f.opIndex >= 0 ? ` at capability ${f.opIndex}` : ''}: ${why}`;
      hint = f.errno === EPERM ? 'a capability listed with --cap is not held by the jail process' : undefined;
      break;
    case 'chdir':
      message = `chdir to the working directory '${plan.cwd}' inside the jail failed: ${why}`;
      hint = 'the directory must exist inside the jail (mount it, or pick another --cwd)';
      break;
    case 'hostname':
      message = `sethostname('${plan.hostname}') failed: ${why}`;
      break;
    case 'seccomp':
      message = `installing the seccomp filter failed: ${why}`;
      break;
    default:
      message = `jail setup step '${f.stage}' failed: ${why}`;
  }
  return { stage: f.stage, errno, message: hint ? `${message}\n  hint: ${hint}` : message };
}
