/**
 * Turns the addon's {stage, opIndex, errno} into a sentence in the user's words: the addon
 * knows only which step failed; the plan and its mount entries say what that step was.
 */
import * as fs from 'node:fs';
import type { PlannedJail } from '../sandbox';
import type { SetupFailure } from '../native/types';
import { RLIMIT } from '../sandbox/kernel';
import { EACCES, EDQUOT, EINVAL, ENOENT, ENOEXEC, ENOSPC, ENOTDIR, EOPNOTSUPP, EPERM, EROFS, errnoName, errnoText } from './errno';
import type { SetupError } from './report';

function describeMountOp(planned: PlannedJail, opIndex: number): string {
  const op = planned.plan.mounts[opIndex];
  if (!op) return `mount step ${opIndex}`;
  const entry = op.ref !== null ? planned.mounts[op.ref]?.describe : undefined;
  const what: Record<string, string> = {
    mount: 'mount',
    mkdirs: 'creating the mount point',
    mkfile: 'creating the mount point file',
    symlink: 'creating the symlink',
    write: 'writing the file content',
    remount: 'remounting',
    setattr: 'setting mount flags',
    umount: 'unmounting',
    unlink: 'removing a content file',
    pivot: 'pivot_root into the new root',
    moveRoot: 'moving the new root (--no_pivotroot)',
    chroot: 'chroot',
  };
  const step = what[op.op] ?? op.op;
  const target = 'path' in op ? op.path : 'target' in op ? op.target : 'newRoot' in op ? op.newRoot : '';
  return entry ? `${entry}: ${step} ${target}` : `${step} ${target}`;
}

/**
 * A fresh procfs is refused in a user namespace when the /proc this process sees has parts
 * covered by other mounts (the kernel will not reveal what they hide): container runtimes mask
 * /proc that way. Said only when it is so here, with the options that lift the masks.
 */
function procMountHint(): string {
  let masked: string[] = [];
  try {
    masked = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m) => m !== undefined && m.startsWith('/proc/'));
  } catch {
    // no /proc to read: nothing to add
  }
  const alternatives = 'or bind the host /proc read-only (-R /proc), or do without /proc (--disable_proc)';
  if (masked.length === 0) return `the kernel refused a fresh /proc here; ${alternatives}`;
  return (
    `this /proc has paths masked by other mounts (${masked.slice(0, 3).join(', ')}${masked.length > 3 ? ', ...' : ''}), as container runtimes do, ` +
    `and the kernel then refuses a fresh /proc in a user namespace: run the container with Docker --security-opt systempaths=unconfined or podman --security-opt unmask=ALL, ${alternatives}`
  );
}

function mountHint(planned: PlannedJail, opIndex: number, errno: number): string | undefined {
  const op = planned.plan.mounts[opIndex];
  if (errno === EROFS && op && (op.op === 'mkdirs' || op.op === 'mkfile' || op.op === 'symlink')) {
    return 'the mount point does not exist and its parent is read-only in the jail: create it on the host, or mount a tmpfs over a parent directory first';
  }
  if (errno === EACCES) return "the jail's user cannot reach the source: check the permissions of every directory on the path (e.g. chmod o+x)";
  if (errno === EPERM && op?.op === 'mount' && op.fstype === 'proc') return procMountHint();
  if (errno === EPERM && op?.op === 'mount') return 'the kernel refused this mount in a user namespace (only some filesystem types may be mounted there)';
  if (errno === ENOENT) return 'a path does not exist: check the source on the host and the destination in the jail';
  if (errno === ENOTDIR) return 'a file is mounted where a directory is needed, or the other way round (see is_dir)';
  return undefined;
}

/** What a step was, in the user's words, without the error: "mount #2 /usr -> /usr (bind, ro): mount /run/jail/root/usr". */
export function describeStep(planned: PlannedJail, stage: string, opIndex: number): string {
  const plan = planned.plan;
  switch (stage) {
    case 'mount':
      return describeMountOp(planned, opIndex);
    case 'execve':
      return `execve '${plan.exec.path}' inside the jail`;
    case 'idmap':
      return `writing the user namespace id maps (${['setgroups', 'gid_map', 'uid_map', 'newgidmap', 'newuidmap'][opIndex] ?? 'map'})`;
    case 'clone':
      return 'clone of the jail process';
    case 'cgroup':
      return `adding the jail to its cgroup (${plan.cgroup?.attach[opIndex]?.path ?? 'cgroup file'})`;
    case 'rlimit': {
      const rl = plan.rlimits[opIndex];
      const name = Object.entries(RLIMIT).find(([, n]) => n === rl?.resource)?.[0];
      return rl ? `setting rlimit_${name ?? rl.resource} to ${rl.cur}` : 'setting the rlimits';
    }
    case 'caps':
      return `dropping capabilities${opIndex >= 0 ? ` (capability ${opIndex})` : ''}`;
    case 'chdir':
      return `chdir to the working directory '${plan.cwd}' inside the jail`;
    case 'hostname':
      return `sethostname('${plan.hostname}')`;
    case 'seccomp':
      // op 0: the user-notification filter and its handshake with the supervisor; op 1: the policy.
      return opIndex === 0 ? 'installing the seccomp user-notification filter and handing its listener to the supervisor' : 'installing the seccomp filter';
    case 'keyring':
      return "joining a fresh session keyring (so the jail cannot reach the caller's keys)";
    case 'loopback':
      return "bringing up the jail's loopback interface";
    case 'network': {
      const r = plan.network?.rules[opIndex];
      if (!r) return "waiting for the jail's network link";
      const what = [r.dst || 'any destination', r.proto ? `protocol ${r.proto}` : '', r.dport ? `port ${r.dport.join('-')}` : ''].filter(Boolean).join(' ');
      return `adding the routing rule '${r.action}' for ${what} (IPv${r.family}, priority ${r.priority}) in the jail's network namespace`;
    }
    case 'affinity':
      return `pinning the jail to CPUs ${plan.cpus?.join(',')} (--max_cpus)`;
    case 'core_scheduling':
      return 'creating a core scheduling group (--use_core_scheduling)';
    case 'fds':
      // opIndex >= 0: the launch's last check before clone found this caller's fd closed.
      return opIndex >= 0 ? `keeping fd ${opIndex} (a stdio or --pass_fd fd) for the jail` : 'marking the fds above 2 close-on-exec';
    default:
      return `jail setup step '${stage}'`;
  }
}

function stageHint(planned: PlannedJail, f: SetupFailure): string | undefined {
  const plan = planned.plan;
  switch (f.stage) {
    case 'mount':
      return mountHint(planned, f.opIndex, f.errno);
    case 'execve':
      if (f.errno === ENOENT) {
        return planned.mounts.every((m) => m.spanKey === 'mount_proc')
          ? "the jail's root is an empty tmpfs: add --chroot / or mount the program and its libraries (-R /usr -R /lib ...)"
          : 'the program (or its interpreter or libraries) is not visible inside the jail: mount the directories it needs';
      }
      if (f.errno === EACCES) return 'the file is not executable by the jail user, or sits on a noexec mount';
      if (f.errno === ENOEXEC) return 'the file is not a binary the kernel can run (missing #! line?)';
      return undefined;
    case 'idmap':
      return f.errno === EPERM ? 'unprivileged users may map only their own uid/gid; use -U/-G with /etc/subuid ranges, or run as root' : undefined;
    case 'clone':
      return f.errno === EPERM || f.errno === EINVAL || f.errno === ENOSPC
        ? 'user namespaces may be disabled or restricted here: check sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, and AppArmor (kernel.apparmor_restrict_unprivileged_userns on Ubuntu)'
        : undefined;
    case 'caps':
      return f.errno === EPERM ? 'a capability listed with --cap is not held by the jail process' : undefined;
    case 'chdir':
      return 'the directory must exist inside the jail (mount it, or pick another --cwd)';
    case 'setid':
      return f.errno === EINVAL
        ? `uid ${plan.uid} or gid ${plan.gid} is not mapped in the jail's user namespace: the first -u/-g (uidmap/gidmap) entry must cover it`
        : undefined;
    case 'keyring':
      return f.errno === EDQUOT
        ? "the jail user's quota of kernel keys is used up (see /proc/key-users, sysctl kernel.keys.maxkeys): fewer jails at once as this user, or raise the quota"
        : undefined;
    case 'core_scheduling':
      return f.errno === EINVAL ? 'this kernel has no core scheduling (CONFIG_SCHED_CORE); drop --use_core_scheduling' : undefined;
    case 'loopback':
      return 'bringing up lo needs CAP_NET_ADMIN in the jail; --iface_no_lo leaves it down';
    case 'network':
      return f.opIndex >= 0 && (f.errno === EINVAL || f.errno === EOPNOTSUPP)
        ? 'this kernel lacks a routing-rule feature jail needs (policy routing, CONFIG_IP_MULTIPLE_TABLES / CONFIG_IPV6_MULTIPLE_TABLES, ip rule ipproto/dport: Linux >= 4.17)'
        : undefined;
    case 'seccomp':
      // op 0, EPERM: the supervisor's pidfd_getfd of the child's listener was refused. The child's
      // uid changed (uidmap to another host id), which makes it non-dumpable, so taking its fd needs
      // CAP_SYS_PTRACE; root on a host has it, root in a container usually does not.
      return f.opIndex === 0 && f.errno === EPERM
        ? "taking the listener from the jail's child needs CAP_SYS_PTRACE when the jail runs as another uid (uidmap): in a container add " +
            '--cap-add SYS_PTRACE (Docker, podman; Kubernetes: securityContext.capabilities.add: [SYS_PTRACE]); or map the jail to your own uid'
        : undefined;
    case 'fds':
      return f.opIndex >= 0 ? 'the fd was closed before the launch cloned the jail: keep every fd passed to launch open until it returns' : undefined;
    default:
      return undefined;
  }
}

export function describeSetupFailure(planned: PlannedJail, f: SetupFailure): SetupError {
  const message = `${describeStep(planned, f.stage, f.opIndex)}: ${errnoText(f.errno)}`;
  const hint = stageHint(planned, f);
  return { stage: f.stage, errno: errnoName(f.errno), message: hint ? `${message}\n  hint: ${hint}` : message };
}
