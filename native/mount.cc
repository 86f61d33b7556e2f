// Mount operations of the plan, applied in order.
//
// Runs in: the cloned child, after the go byte and set-ids; the plan's `pivot` op is one of
// these ops. Constraints: raw syscalls only (see child.cc); paths are copied into stack buffers,
// never allocated.
//
// Security argument: before pivot_root the child still sees the host's filesystem, so every path
// an op names is opened first, the one way that cannot be redirected, and the op then acts on
// the descriptor (through /proc/self/fd/N, or the *at syscalls):
// - Paths under the jail root may cross a symlink inside a writable bind (planted by an earlier
//   jail in a persistent workspace). Followed from the host's root, such a link would make
//   mkdir, open or mount act on the host. They resolve with openat2(RESOLVE_IN_ROOT): symlinks
//   and ".." resolve as they would inside the jail, never above its root.
// - The jail root and the content dir (src/sandbox/host.ts scratchLayout) are reached from one
//   descriptor of the scratch directory (the root's parent), opened once: nothing can swap them
//   for a link between two steps (a link fails with ELOOP).
// - Any other host path (bind sources, --chroot) was resolved by the planner and contains no
//   link (src/sandbox/host-path.ts); it opens with RESOLVE_NO_SYMLINKS, so a component swapped
//   for a link since planning fails the launch instead of being followed.
// After pivot_root the paths are the jail's own and are used as given (/proc may be absent).
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
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif

namespace jail {

namespace {

constexpr size_t kPathMax = 4096;

// What the ops of one jail resolve their paths against.
struct MountCtx {
  const ChildSpec& spec;
  long scratch;         // O_PATH fd of the scratch directory, opened on first use; -1 before
  size_t scratch_len;   // length of its path: spec.root up to its last '/'
  bool pivoted;         // a pivot/moveRoot op has run: paths are the jail's own
  long last_bind;          // the mount the last bind op made (see AttachTree), or -1
  const char* last_target;  // that op's target
};

// An op's path, opened: `path` is what path-based syscalls use (/proc/self/fd/N of `fd`, or the
// op's own path after pivot_root, when fd is -1); `dirfd` is for the *at syscalls.
struct Resolved {
  long fd;
  const char* path;
  char buf[32];
};

// `path` below `prefix` (its first `len` bytes): the rest without the leading '/' ("" for the
// prefix itself), or null when it is not below it.
const char* Below(const char* prefix, size_t len, const char* path) {
  for (size_t i = 0; i < len; i++) {
    if (path[i] != prefix[i]) return nullptr;
  }
  if (path[len] == '\0') return path + len;
  return path[len] == '/' ? path + len + 1 : nullptr;
}

size_t Length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  return n;
}

long OpenAt2(long dirfd, const char* path, unsigned long flags, unsigned long long resolve) {
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC | flags;
  how.resolve = resolve;
  return Sys(SYS_openat2, dirfd, path, &how, sizeof(how));
}

// The scratch directory, opened once per jail. Its path was checked by the planner (ours, 0711,
// no link in it: src/sandbox/host.ts).
long Scratch(MountCtx& ctx) {
  if (ctx.scratch >= 0) return ctx.scratch;
  char buf[kPathMax];
  size_t n = ctx.scratch_len;
  if (n + 1 >= kPathMax) return -ENAMETOOLONG;
  for (size_t i = 0; i < n; i++) buf[i] = ctx.spec.root[i];
  if (n == 0) buf[n++] = '/';
  buf[n] = '\0';
  ctx.scratch = OpenAt2(AT_FDCWD, buf, O_DIRECTORY, RESOLVE_NO_SYMLINKS);
  return ctx.scratch;
}

// Opens `path` (O_PATH | flags) the way the security argument above says. Returns an fd or -errno.
long Open(MountCtx& ctx, const char* path, unsigned long flags) {
  const char* root = ctx.spec.root;
  if (root == nullptr) return OpenAt2(AT_FDCWD, path, flags, RESOLVE_NO_SYMLINKS);
  size_t root_len = Length(root);
  const char* in_root = Below(root, root_len, path);
  const char* in_scratch = Below(root, ctx.scratch_len, path);
  if (in_scratch == nullptr) return OpenAt2(AT_FDCWD, path, flags, RESOLVE_NO_SYMLINKS);
  long scratch = Scratch(ctx);
  if (scratch < 0) return scratch;
  if (in_root == nullptr || in_root[0] == '\0') {
    // The scratch directory itself, the root, the content dir and files in it.
    if (in_scratch[0] == '\0') return Sys(SYS_fcntl, scratch, F_DUPFD_CLOEXEC, 0);
    return OpenAt2(scratch, in_scratch, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
  }
  // Opened anew for each op, so it is whatever is mounted on the root by now.
  long rootfd = OpenAt2(scratch, root + ctx.scratch_len + 1, O_DIRECTORY, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
  if (rootfd < 0) return rootfd;
  long fd = OpenAt2(rootfd, in_root, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  Sys(SYS_close, rootfd);
  return fd;
}

// Formats /proc/self/fd/N into buf (the path the kernel follows to the opened file).
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

// Resolves an op's path (see Resolved). Returns 0 or an errno; release with Release().
int Resolve(MountCtx& ctx, const char* path, unsigned long flags, Resolved* r) {
  r->fd = -1;
  r->path = path;
  if (ctx.pivoted) return 0;
  r->fd = Open(ctx, path, flags);
  if (r->fd < 0) return SysErr(r->fd);
  r->path = FdPath(r->fd, r->buf);
  return 0;
}

void Release(Resolved* r) {
  if (r->fd >= 0) Sys(SYS_close, r->fd);
}

long DirFd(const Resolved& r) { return r.fd >= 0 ? r.fd : AT_FDCWD; }

// Resolves the directory of `path` and points *name at its last component (in `buf`), for the
// *at syscalls: DirFd(*dir), *name. After pivot_root the name is the whole path.
int ResolveParent(MountCtx& ctx, const char* path, char* buf, Resolved* dir, const char** name) {
  size_t len = 0, slash = 0;
  for (; path[len] != '\0'; len++) {
    if (len + 1 >= kPathMax) return ENAMETOOLONG;
    buf[len] = path[len];
    if (path[len] == '/') slash = len;
  }
  buf[len] = '\0';
  if (ctx.pivoted) {
    dir->fd = -1;
    *name = buf;
    return 0;
  }
  if (buf[0] != '/' || slash + 1 == len) return EINVAL;
  *name = buf + slash + 1;
  char parent[kPathMax];
  for (size_t i = 0; i < slash; i++) parent[i] = buf[i];
  if (slash == 0) parent[slash++] = '/';
  parent[slash] = '\0';
  return Resolve(ctx, parent, O_DIRECTORY, dir);
}

// Creates one directory; an existing entry of any kind is fine (the mount reports a non-directory).
int MkdirOne(MountCtx& ctx, const char* path, unsigned int mode) {
  char buf[kPathMax];
  const char* name;
  Resolved dir;
  int err = ResolveParent(ctx, path, buf, &dir, &name);
  if (err) return err;
  err = SysErr(Sys(SYS_mkdirat, DirFd(dir), name, mode));
  Release(&dir);
  return err == EEXIST ? 0 : err;
}

// mkdir -p. Below the jail root only the components under the root are created.
int MkdirAll(MountCtx& ctx, const char* path, unsigned int mode) {
  char buf[kPathMax];
  size_t len = Length(path);
  if (len + 1 >= kPathMax) return ENAMETOOLONG;
  if (len <= 1) return 0;  // "/" exists
  for (size_t i = 0; i <= len; i++) buf[i] = path[i];
  size_t from = 1;
  if (!ctx.pivoted && ctx.spec.root != nullptr && Below(ctx.spec.root, Length(ctx.spec.root), path) != nullptr) {
    from = Length(ctx.spec.root) + 1;
  }
  for (size_t i = from; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    int err = MkdirOne(ctx, buf, mode);
    if (err) return err;
    buf[i] = saved;
  }
  return 0;
}

// An empty file as a mount point; an existing entry is fine.
int MakeFile(MountCtx& ctx, const char* path, unsigned int mode) {
  char buf[kPathMax];
  const char* name;
  Resolved dir;
  int err = ResolveParent(ctx, path, buf, &dir, &name);
  if (err) return err;
  long fd = Sys(SYS_openat, DirFd(dir), name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  Release(&dir);
  if (fd < 0) return fd == -EEXIST ? 0 : SysErr(fd);
  Sys(SYS_close, fd);
  return 0;
}

int Symlink(MountCtx& ctx, const MountOpSpec& op) {
  char buf[kPathMax];
  const char* name;
  Resolved dir;
  int err = ResolveParent(ctx, op.target, buf, &dir, &name);
  if (err) return err;
  err = SysErr(Sys(SYS_symlinkat, op.source, DirFd(dir), name));
  Release(&dir);
  return err;
}

bool SameString(const char* a, const char* b) {
  size_t i = 0;
  while (a[i] != '\0' && a[i] == b[i]) i++;
  return a[i] == b[i];
}

void ForgetLastBind(MountCtx& ctx) {
  if (ctx.last_bind >= 0) Sys(SYS_close, ctx.last_bind);
  ctx.last_bind = -1;
  ctx.last_target = nullptr;
}

// A bind as a copy of the source tree (open_tree) moved onto the target (move_mount), both by
// descriptor. The copy's descriptor is kept, so the setattr op that follows (read-only, nodev)
// acts on exactly this mount: looked up by path again, it could land wherever a concurrent jail
// that shares a writable parent had renamed things to by then.
int AttachTree(MountCtx& ctx, const MountOpSpec& op, long source, long target) {
  unsigned long flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | ((op.flags & MS_REC) ? AT_RECURSIVE : 0);
  long tree = Sys(SYS_open_tree, source, "", flags);
  if (tree < 0) return SysErr(tree);
  int err = SysErr(Sys(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
  if (err) {
    Sys(SYS_close, tree);
    return err;
  }
  ForgetLastBind(ctx);
  ctx.last_bind = tree;
  ctx.last_target = op.target;
  return 0;
}

// mount(2) onto the op's target; a bind's source is a path too, opened the same way, and the
// bind itself is made by descriptor (AttachTree) whenever both ends were opened.
int Mount(MountCtx& ctx, const MountOpSpec& op) {
  Resolved target, source = {-1, op.source, {}};
  int err = Resolve(ctx, op.target, 0, &target);
  if (err) return err;
  bool bind = (op.flags & MS_BIND) && op.source != nullptr;
  if (bind) err = Resolve(ctx, op.source, 0, &source);
  if (!err && bind && source.fd >= 0 && target.fd >= 0) {
    err = AttachTree(ctx, op, source.fd, target.fd);
  } else if (!err) {
    err = SysErr(Sys(SYS_mount, source.path, target.path, op.fstype, op.flags, op.data));
  }
  Release(&source);
  Release(&target);
  return err;
}

int WriteFile(MountCtx& ctx, const MountOpSpec& op) {
  char buf[kPathMax];
  const char* name;
  Resolved dir;
  int err = ResolveParent(ctx, op.target, buf, &dir, &name);
  if (err) return err;
  long fd = Sys(SYS_openat, DirFd(dir), name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, op.mode);
  Release(&dir);
  if (fd < 0) return SysErr(fd);
  size_t done = 0;
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
int Remount(MountCtx& ctx, const MountOpSpec& op) {
  Resolved target;
  int err = Resolve(ctx, op.target, 0, &target);
  if (err) return err;
  struct statfs st;
  if (!(err = SysErr(Sys(SYS_statfs, target.path, &st)))) {
    unsigned long keep = (unsigned long)st.f_flags &
                         (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
    err = SysErr(Sys(SYS_mount, nullptr, target.path, nullptr, MS_REMOUNT | MS_BIND | op.flags | keep, nullptr));
  }
  Release(&target);
  return err;
}

int SetAttr(MountCtx& ctx, const MountOpSpec& op) {
  struct mount_attr attr = {};
  attr.attr_set = op.attr_set;
  attr.attr_clr = op.attr_clr;
  unsigned int recursive = op.recursive ? AT_RECURSIVE : 0;
  if (ctx.last_bind >= 0 && SameString(op.target, ctx.last_target)) {
    return SysErr(Sys(SYS_mount_setattr, ctx.last_bind, "", AT_EMPTY_PATH | recursive, &attr, sizeof(attr)));
  }
  // Opened after the mount, so it names the mounted filesystem's root.
  Resolved target;
  int err = Resolve(ctx, op.target, 0, &target);
  if (err) return err;
  err = SysErr(Sys(SYS_mount_setattr, AT_FDCWD, target.path, recursive, &attr, sizeof(attr)));
  Release(&target);
  return err;
}

int Umount(MountCtx& ctx, const MountOpSpec& op) {
  Resolved target;
  int err = Resolve(ctx, op.target, 0, &target);
  if (err) return err;
  err = SysErr(Sys(SYS_umount2, target.path, op.flags));
  Release(&target);
  return err;
}

int Unlink(MountCtx& ctx, const MountOpSpec& op) {
  char buf[kPathMax];
  const char* name;
  Resolved dir;
  int err = ResolveParent(ctx, op.target, buf, &dir, &name);
  if (err) return err;
  err = SysErr(Sys(SYS_unlinkat, DirFd(dir), name, 0));
  Release(&dir);
  return err;
}

// chdir into the jail's root (pivot, moveRoot) or the chroot directory; from then on paths are the
// jail's own.
int EnterRoot(MountCtx& ctx, const MountOpSpec& op) {
  Resolved dir;
  int err = Resolve(ctx, op.target, O_DIRECTORY, &dir);
  if (err) return err;
  err = SysErr(Sys(SYS_chdir, dir.path));
  Release(&dir);
  ctx.pivoted = true;
  return err;
}

// pivot_root(".", ".") stacks the old root on top of the jail's root; detaching "." then removes
// the old root from this namespace without needing a put_old directory.
int Pivot(MountCtx& ctx, const MountOpSpec& op) {
  int err;
  if ((err = EnterRoot(ctx, op))) return err;
  if ((err = SysErr(Sys(SYS_pivot_root, ".", ".")))) return err;
  if ((err = SysErr(Sys(SYS_umount2, ".", MNT_DETACH)))) return err;
  return SysErr(Sys(SYS_chdir, "/"));
}

int MoveRoot(MountCtx& ctx, const MountOpSpec& op) {
  int err;
  if ((err = EnterRoot(ctx, op))) return err;
  if ((err = SysErr(Sys(SYS_mount, ".", "/", nullptr, MS_MOVE, nullptr)))) return err;
  if ((err = SysErr(Sys(SYS_chroot, ".")))) return err;
  return SysErr(Sys(SYS_chdir, "/"));
}

int Chroot(MountCtx& ctx, const MountOpSpec& op) {
  int err;
  if ((err = EnterRoot(ctx, op))) return err;
  if ((err = SysErr(Sys(SYS_chroot, ".")))) return err;
  return SysErr(Sys(SYS_chdir, "/"));
}

int Apply(MountCtx& ctx, const MountOpSpec& op) {
  switch (op.kind) {
    case kOpMount:
      return Mount(ctx, op);
    case kOpMkdirs:
      return MkdirAll(ctx, op.target, op.mode);
    case kOpMkfile:
      return MakeFile(ctx, op.target, op.mode);
    case kOpSymlink:
      return Symlink(ctx, op);
    case kOpWrite:
      return WriteFile(ctx, op);
    case kOpRemount:
      return Remount(ctx, op);
    case kOpSetattr:
      return SetAttr(ctx, op);
    case kOpUmount:
      return Umount(ctx, op);
    case kOpUnlink:
      return Unlink(ctx, op);
    case kOpPivot:
      return Pivot(ctx, op);
    case kOpMoveRoot:
      return MoveRoot(ctx, op);
    case kOpChroot:
      return Chroot(ctx, op);
  }
  return EINVAL;
}

}  // namespace

int ChildApplyMounts(const ChildSpec& spec, int* op_index) {
  MountCtx ctx = {spec, -1, 0, false, -1, nullptr};
  if (spec.root != nullptr) {
    for (size_t i = 0; spec.root[i] != '\0'; i++) {
      if (spec.root[i] == '/') ctx.scratch_len = i;
    }
  }
  int err = 0;
  for (size_t i = 0; i < spec.mounts_len && err == 0; i++) {
    const MountOpSpec& op = spec.mounts[i];
    err = Apply(ctx, op);
    if (err != 0 && op.optional) err = 0;
    if (err != 0) *op_index = (int)i;
  }
  // A descriptor of the host's filesystem has no business in the jail.
  if (ctx.scratch >= 0) Sys(SYS_close, ctx.scratch);
  ForgetLastBind(ctx);
  return err;
}

}  // namespace jail
