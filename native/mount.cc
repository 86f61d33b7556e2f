// Mount operations of the plan, applied in order.
//
// Runs in: the cloned child, after the go byte and set-ids; the plan's `pivot` op is one of
// these ops. Constraints: raw syscalls only (see child.cc); paths are copied into stack buffers,
// never allocated.
//
// Security argument: before pivot_root the child still sees the host's filesystem, and a path
// under the jail root may cross a symlink inside a writable bind (planted by an earlier jail in a
// persistent workspace). Followed from the host's root, such a link would make mkdir, open or
// mount act on the host. So every op whose path lies under the jail root resolves it with
// openat2(RESOLVE_IN_ROOT): symlinks and ".." resolve as they would inside the jail, never
// above its root; mounts then go through /proc/self/fd/N of the resolved directory.
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "child.h"
#include "sys.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace jail {

namespace {

constexpr size_t kPathMax = 4096;

// The part of `target` below the jail root (pointing into `target`; empty for the root itself),
// or null when `target` is not under it (staging files, "/", paths after pivot_root).
const char* UnderRoot(const ChildSpec& spec, const char* target) {
  if (spec.root == nullptr) return nullptr;
  size_t i = 0;
  while (spec.root[i] != '\0' && target[i] == spec.root[i]) i++;
  if (spec.root[i] != '\0') return nullptr;
  if (target[i] == '\0') return target + i;
  return target[i] == '/' ? target + i + 1 : nullptr;
}

// Opens `rel` below the jail root as O_PATH, resolving it as it resolves inside the jail.
// Returns an fd or -errno.
long OpenInRoot(const ChildSpec& spec, const char* rel, unsigned long flags) {
  long root = Sys(SYS_openat, AT_FDCWD, spec.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0 || rel[0] == '\0') return root;
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC | flags;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = Sys(SYS_openat2, root, rel, &how, sizeof(how));
  Sys(SYS_close, root);
  return fd;
}

// Splits a copy of `rel` into its directory (resolved in the root, as an fd) and its last name.
// Returns the directory fd or -errno; *name points into `buf`.
long OpenParentInRoot(const ChildSpec& spec, const char* rel, char* buf, const char** name) {
  size_t len = 0, slash = 0;
  bool has_slash = false;
  for (; rel[len] != '\0'; len++) {
    if (len + 1 >= kPathMax) return -ENAMETOOLONG;
    buf[len] = rel[len];
    if (rel[len] == '/') {
      slash = len;
      has_slash = true;
    }
  }
  buf[len] = '\0';
  if (!has_slash) {
    *name = buf;
    return OpenInRoot(spec, "", O_DIRECTORY);
  }
  buf[slash] = '\0';
  *name = buf + slash + 1;
  return OpenInRoot(spec, buf, O_DIRECTORY);
}

// Formats /proc/self/fd/N into buf (the path mount(2) follows to the resolved directory).
const char* FdPath(long fd, char* buf) {
  const char prefix[] = "/proc/self/fd/";
  size_t n = 0;
  for (; prefix[n] != '\0'; n++) buf[n] = prefix[n];
  char digits[24];
  size_t d = 0;
  do {
    digits[d++] = (char)('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  while (d > 0) buf[n++] = digits[--d];
  buf[n] = '\0';
  return buf;
}

// Creates one directory below the root; an existing entry of any kind is fine (the mount
// reports a non-directory).
int MkdirInRoot(const ChildSpec& spec, const char* rel, unsigned int mode) {
  char buf[kPathMax];
  const char* name;
  long dir = OpenParentInRoot(spec, rel, buf, &name);
  if (dir < 0) return SysErr(dir);
  int err = SysErr(Sys(SYS_mkdirat, dir, name, mode));
  Sys(SYS_close, dir);
  return err == EEXIST ? 0 : err;
}

// mkdir -p, below the jail root when the path is under it, else from the host's view (staging).
int MkdirAll(const ChildSpec& spec, const char* path, unsigned int mode) {
  char buf[kPathMax];
  size_t len = 0;
  while (path[len] != '\0') {
    if (len + 1 >= kPathMax) return ENAMETOOLONG;
    buf[len] = path[len];
    len++;
  }
  buf[len] = '\0';
  const char* rel = UnderRoot(spec, buf);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    int err;
    if (rel != nullptr) {
      err = buf + i > rel ? MkdirInRoot(spec, rel, mode) : 0;
    } else {
      err = SysErr(Sys(SYS_mkdirat, AT_FDCWD, buf, mode));
      if (err == EEXIST) err = 0;
    }
    if (err) return err;
    buf[i] = saved;
  }
  return 0;
}

// An empty file as a mount point; an existing entry is fine.
int MakeFile(const ChildSpec& spec, const char* path, unsigned int mode) {
  const char* rel = UnderRoot(spec, path);
  long dir = AT_FDCWD;
  const char* name = path;
  char buf[kPathMax];
  if (rel != nullptr) {
    dir = OpenParentInRoot(spec, rel, buf, &name);
    if (dir < 0) return SysErr(dir);
  }
  long fd = Sys(SYS_openat, dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (dir != AT_FDCWD) Sys(SYS_close, dir);
  if (fd < 0) return fd == -EEXIST ? 0 : SysErr(fd);
  Sys(SYS_close, fd);
  return 0;
}

int Symlink(const ChildSpec& spec, const MountOpSpec& op) {
  const char* rel = UnderRoot(spec, op.target);
  if (rel == nullptr) return SysErr(Sys(SYS_symlinkat, op.source, AT_FDCWD, op.target));
  char buf[kPathMax];
  const char* name;
  long dir = OpenParentInRoot(spec, rel, buf, &name);
  if (dir < 0) return SysErr(dir);
  int err = SysErr(Sys(SYS_symlinkat, op.source, dir, name));
  Sys(SYS_close, dir);
  return err;
}

// mount(2) onto the op's target, resolved below the jail root when it is under it.
int Mount(const ChildSpec& spec, const MountOpSpec& op) {
  const char* rel = UnderRoot(spec, op.target);
  if (rel == nullptr || rel[0] == '\0') return SysErr(Sys(SYS_mount, op.source, op.target, op.fstype, op.flags, op.data));
  long fd = OpenInRoot(spec, rel, 0);
  if (fd < 0) return SysErr(fd);
  char path[64];
  int err = SysErr(Sys(SYS_mount, op.source, FdPath(fd, path), op.fstype, op.flags, op.data));
  Sys(SYS_close, fd);
  return err;
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

int SetAttr(const ChildSpec& spec, const MountOpSpec& op) {
  struct mount_attr attr = {};
  attr.attr_set = op.attr_set;
  attr.attr_clr = op.attr_clr;
  unsigned int flags = op.recursive ? AT_RECURSIVE : 0;
  const char* rel = UnderRoot(spec, op.target);
  if (rel == nullptr) return SysErr(Sys(SYS_mount_setattr, AT_FDCWD, op.target, flags, &attr, sizeof(attr)));
  // Opened after the mount, so the fd refers to the mounted filesystem's root.
  long fd = OpenInRoot(spec, rel, 0);
  if (fd < 0) return SysErr(fd);
  int err = SysErr(Sys(SYS_mount_setattr, fd, "", flags | AT_EMPTY_PATH, &attr, sizeof(attr)));
  Sys(SYS_close, fd);
  return err;
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

int Apply(const ChildSpec& spec, const MountOpSpec& op) {
  switch (op.kind) {
    case kOpMount:
      return Mount(spec, op);
    case kOpMkdirs:
      return MkdirAll(spec, op.target, op.mode);
    case kOpMkfile:
      return MakeFile(spec, op.target, op.mode);
    case kOpSymlink:
      return Symlink(spec, op);
    case kOpWrite:
      return WriteFile(op);
    case kOpRemount:
      return Remount(op);
    case kOpSetattr:
      return SetAttr(spec, op);
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
    int err = Apply(spec, op);
    if (err != 0 && !op.optional) {
      *op_index = (int)i;
      return err;
    }
  }
  return 0;
}

}  // namespace jail
