// Mount operations of the plan, applied in order.
//
// Runs in: the cloned child, after the go byte and set-ids; the plan's `pivot` op is one of
// these ops. Constraints: raw syscalls only (see child.cc); paths are copied into stack buffers,
// never allocated.
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "child.h"
#include "sys.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

namespace jail {

namespace {

constexpr size_t kPathMax = 4096;

// mkdir -p. Existing components are fine whatever they are; the final mount reports a
// non-directory.
int MkdirAll(const char* path, unsigned int mode) {
  char buf[kPathMax];
  size_t len = 0;
  while (path[len] != '\0') {
    if (len + 1 >= kPathMax) return ENAMETOOLONG;
    buf[len] = path[len];
    len++;
  }
  buf[len] = '\0';
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    int err = SysErr(Sys(SYS_mkdirat, AT_FDCWD, buf, mode));
    if (err && err != EEXIST) return err;
    buf[i] = saved;
  }
  return 0;
}

int MakeFile(const char* path, unsigned int mode) {
  long fd = Sys(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return fd == -EEXIST ? 0 : SysErr(fd);
  Sys(SYS_close, fd);
  return 0;
}

int WriteFile(const MountOpSpec& op) {
  long fd = Sys(SYS_openat, AT_FDCWD, op.target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, op.mode);
  if (fd < 0) return SysErr(fd);
  size_t done = 0;
  int err = 0;
  while (done < op.data_len) {
    long n = Sys(SYS_write, fd, op.data + done, op.data_len - done);
    if (n == -EINTR) continue;
    if (n < 0) {
      err = SysErr(n);
      break;
    }
    done += (size_t)n;
  }
  Sys(SYS_close, fd);
  return err;
}

// A bind remount must repeat the flags the kernel has locked on the mount (nosuid, nodev,
// noexec, ro, atime flags inherited from a less privileged mount namespace), or it fails with
// EPERM. statfs reports them as ST_* bits, which have the same values as the MS_* bits.
int Remount(const MountOpSpec& op) {
  struct statfs st;
  int err = SysErr(Sys(SYS_statfs, op.target, &st));
  if (err) return err;
  unsigned long keep = (unsigned long)st.f_flags &
                       (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
  return SysErr(Sys(SYS_mount, nullptr, op.target, nullptr, MS_REMOUNT | MS_BIND | op.flags | keep, nullptr));
}

int SetAttr(const MountOpSpec& op) {
  struct mount_attr attr = {};
  attr.attr_set = op.attr_set;
  attr.attr_clr = op.attr_clr;
  unsigned int flags = op.recursive ? AT_RECURSIVE : 0;
  return SysErr(Sys(SYS_mount_setattr, AT_FDCWD, op.target, flags, &attr, sizeof(attr)));
}

// pivot_root(".", ".") stacks the old root on top of the jail's root; detaching "." then removes
// the old root from this namespace without needing a put_old directory.
int Pivot(const MountOpSpec& op) {
  int err;
  if ((err = SysErr(Sys(SYS_chdir, op.target)))) return err;
  if ((err = SysErr(Sys(SYS_pivot_root, ".", ".")))) return err;
  if ((err = SysErr(Sys(SYS_umount2, ".", MNT_DETACH)))) return err;
  return SysErr(Sys(SYS_chdir, "/"));
}

int MoveRoot(const MountOpSpec& op) {
  int err;
  if ((err = SysErr(Sys(SYS_chdir, op.target)))) return err;
  if ((err = SysErr(Sys(SYS_mount, ".", "/", nullptr, MS_MOVE, nullptr)))) return err;
  if ((err = SysErr(Sys(SYS_chroot, ".")))) return err;
  return SysErr(Sys(SYS_chdir, "/"));
}

int Apply(const MountOpSpec& op) {
  switch (op.kind) {
    case kOpMount:
      return SysErr(Sys(SYS_mount, op.source, op.target, op.fstype, op.flags, op.data));
    case kOpMkdirs:
      return MkdirAll(op.target, op.mode);
    case kOpMkfile:
      return MakeFile(op.target, op.mode);
    case kOpSymlink:
      return SysErr(Sys(SYS_symlinkat, op.source, AT_FDCWD, op.target));
    case kOpWrite:
      return WriteFile(op);
    case kOpRemount:
      return Remount(op);
    case kOpSetattr:
      return SetAttr(op);
    case kOpUmount:
      return SysErr(Sys(SYS_umount2, op.target, op.flags));
    case kOpUnlink:
      return SysErr(Sys(SYS_unlinkat, AT_FDCWD, op.target, 0));
    case kOpPivot:
      return Pivot(op);
    case kOpMoveRoot:
      return MoveRoot(op);
    case kOpChroot: {
      int err = SysErr(Sys(SYS_chroot, op.target));
      return err ? err : SysErr(Sys(SYS_chdir, "/"));
    }
  }
  return EINVAL;
}

}  // namespace

int ChildApplyMounts(const ChildSpec& spec, int* op_index) {
  for (size_t i = 0; i < spec.mounts_len; i++) {
    const MountOpSpec& op = spec.mounts[i];
    int err = Apply(op);
    if (err != 0 && !op.optional) {
      *op_index = (int)i;
      return err;
    }
  }
  return 0;
}

}  // namespace jail
