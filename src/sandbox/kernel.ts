/**
 * Kernel numbers the planner writes into plans (linux/sched.h, sys/mount.h, linux/mount.h,
 * sys/resource.h, sys/personality.h, linux/seccomp.h). Values are the same on x86_64 and
 * aarch64, the two architectures jail supports.
 */

export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x00000080;

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;

export const MNT_DETACH = 0x2;

export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;

export const RLIMIT = {
  cpu: 0,
  fsize: 1,
  stack: 3,
  core: 4,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  msgqueue: 12,
  rtprio: 14,
} as const;

export const PERSONALITY = {
  addrNoRandomize: 0x0040000,
  mmapPageZero: 0x0100000,
  addrCompatLayout: 0x0200000,
  readImpliesExec: 0x0400000,
  addrLimit3gb: 0x8000000,
} as const;

export const SECCOMP_FILTER_FLAG_LOG = 0x2;

export const SIGKILL = 9;
