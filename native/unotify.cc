// Seccomp user notifications: handing the listener to the supervisor, and answering it.
//
// Runs in: the Node main thread (BuildListenerFilter on the launching thread, before clone).
//
// How the listener reaches the supervisor. A listener fd exists only in the process that installs
// the filter, and from then on every syscall of that process goes through the filter. Options:
//  - pidfd_getfd(2) while the child waits in a notified "marker" syscall: the parent would have
//    to learn that the child has got that far, but the only wake-up is the notification itself,
//    which it cannot read before it holds the listener: it would have to poll /proc.
//  - SCM_RIGHTS over a socket: needs an ALLOW for sendmsg in the policy the program runs under.
//  - What we do: two filters. The listener filter carries only the USER_NOTIF verdicts (every
//    other verdict ALLOW) and is installed first; the plan's policy, with USER_NOTIF turned into
//    ALLOW, is installed after it, last. The kernel runs both and takes the stricter verdict, so
//    together they decide exactly what the policy alone decides, except that USER_NOTIF now has a
//    listener (src/policy/unotify.ts builds the two). Between the two installs the child, which
//    has only the listener filter, writes the listener's fd number on its report pipe and waits
//    for one byte on its go pipe; the event loop (launch_session.cc) reads the number, takes the
//    fd with pidfd_getfd and sends the byte. The listener filter starts with a prologue that lets
//    exactly that write and that read through (by fd number and length) so that a policy that
//    notifies write or read cannot stall the handshake. After execve those rules can only skip a
//    notification, never allow anything: the policy filter still applies its own verdict to every
//    syscall, and a notified syscall is continued anyway.
//
// Answering: every notification is a syscall the policy sent to the supervisor. Its verdict is
// SECCOMP_USER_NOTIF_FLAG_CONTINUE: what the policy refuses never gets here (the kernel applies
// the stricter ERRNO/KILL/TRAP of either filter without notifying), so USER_NOTIF means "tell the
// supervisor, then go on", as nsjail's seccomp_unotify does. The supervisor is told first and the
// answer follows, so an event is recorded before its syscall takes effect. The answer never
// depends on the target's memory (only the registers the kernel copied), so CONTINUE's
// time-of-check problem does not arise and no SECCOMP_IOCTL_NOTIF_ID_VALID check is needed. If
// the supervisor dies, the listener closes and the kernel fails every notified syscall with
// ENOSYS; if it stops answering, the syscall waits (and the time limit ends the jail).
//
// For connect and sendto (of this machine's architecture) the notification also carries, when
// they can be read, the destination address from the target's memory and the socket's type: the
// network events of src/net/watch.ts. When the watcher asks for paths (seccomp_unotify's report,
// src/supervisor/unotify-report.ts), the file syscalls of kPathArgs also carry the path strings
// they name and the directory fd each is relative to, and bind its address. All of it is a
// report, never a decision (the jail's routing rules and the policy decide), and read before the
// answer, so the target is still stopped in that syscall; SECCOMP_IOCTL_NOTIF_ID_VALID after the
// reads proves the pid still named it (else they are dropped: the pid may have been reused).
// Another thread of the target may change the memory after it was read: the report can then be
// wrong, the rules still hold.
#include "unotify.h"

#include <linux/audit.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <limits.h>
#include <string.h>

#include <algorithm>
#include <map>
#include <string>

namespace jail {

namespace {

struct NotifyWatch {
  uv_poll_t poll;
  napi_env env;
  Napi::FunctionReference callback;
  Napi::AsyncContext* context;
  int fd;
  bool read_paths;
};

// Listener fd -> its watch. Main thread only.
std::map<int, NotifyWatch*>& Watches() {
  static std::map<int, NotifyWatch*> watches;
  return watches;
}

void OnClosed(uv_handle_t* handle) {
  NotifyWatch* w = static_cast<NotifyWatch*>(handle->data);
  close(w->fd);
  delete w->context;
  delete w;
}

#if defined(__x86_64__)
constexpr uint32_t kHostAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kHostAuditArch = AUDIT_ARCH_AARCH64;
#endif

// What a connect or sendto names: the socket's type and the destination's bytes.
struct SocketTarget {
  int type = -1;  // SOCK_STREAM, SOCK_DGRAM, ...; -1 = unknown
  unsigned char addr[128];
  size_t addr_len = 0;  // 0 = not read
};

// The thread group of a thread id (pidfd_open takes a process).
pid_t ThreadGroupOf(pid_t tid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
  FILE* f = fopen(path, "re");
  if (!f) return -1;
  char line[256];
  pid_t tgid = -1;
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "Tgid: %d", &tgid) == 1) break;
  }
  fclose(f);
  return tgid;
}

int SocketType(pid_t tid, int target_fd) {
  pid_t tgid = ThreadGroupOf(tid);
  if (tgid <= 0) return -1;
  int pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
  if (pidfd < 0) return -1;
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
  close(pidfd);
  if (fd < 0) return -1;
  int type = -1;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) type = -1;
  close(fd);
  return type;
}

// Reads what connect(fd, addr, len) or sendto(fd, .., addr, len) names; false when the syscall
// is neither, has no address, or the notification went stale meanwhile.
bool ReadSocketTarget(int listener, const struct seccomp_notif& req, bool with_bind, SocketTarget* out) {
  if (req.data.arch != kHostAuditArch) return false;
  int addr_arg;
  if (req.data.nr == SYS_connect) addr_arg = 1;
  else if (req.data.nr == SYS_sendto) addr_arg = 4;
  else if (req.data.nr == SYS_bind && with_bind) addr_arg = 1;
  else return false;
  uint64_t addr = req.data.args[addr_arg];
  uint64_t len = req.data.args[addr_arg + 1];
  if (addr == 0 || len == 0) return false;
  size_t want = len < sizeof(out->addr) ? (size_t)len : sizeof(out->addr);
  struct iovec local = {out->addr, want};
  struct iovec remote = {reinterpret_cast<void*>(addr), want};
  ssize_t got = process_vm_readv(req.pid, &local, 1, &remote, 1, 0);
  if (got <= 0) return false;
  out->addr_len = (size_t)got;
  out->type = SocketType(req.pid, (int)req.data.args[0]);
  // Only now is it known that req.pid was still the notifying thread while we read it.
  uint64_t id = req.id;
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

// Where each file syscall of nsjail's seccomp_unotify list (unotify/syscall_defs.h) names a
// path: the argument holding the string, and the one holding the directory fd it is relative to
// (-1: the working directory). One table for both halves: what is read here, and so what the
// report can show. openat2's flags are in its struct open_how, read apart (kOpenHowArg).
struct PathArgs {
  long nr;
  int8_t path[2];   // -1: no second path
  int8_t dirfd[2];  // -1: none (relative to the working directory)
};

constexpr PathArgs kPathArgs[] = {
#ifdef SYS_open  // the syscalls aarch64 lacks (it has only the *at forms)
    {SYS_open, {0, -1}, {-1, -1}},     {SYS_stat, {0, -1}, {-1, -1}},     {SYS_lstat, {0, -1}, {-1, -1}},
    {SYS_access, {0, -1}, {-1, -1}},   {SYS_chmod, {0, -1}, {-1, -1}},    {SYS_chown, {0, -1}, {-1, -1}},
    {SYS_lchown, {0, -1}, {-1, -1}},   {SYS_readlink, {0, -1}, {-1, -1}}, {SYS_mkdir, {0, -1}, {-1, -1}},
    {SYS_mknod, {0, -1}, {-1, -1}},    {SYS_rmdir, {0, -1}, {-1, -1}},    {SYS_unlink, {0, -1}, {-1, -1}},
    {SYS_rename, {0, 1}, {-1, -1}},    {SYS_link, {0, 1}, {-1, -1}},      {SYS_symlink, {0, 1}, {-1, -1}},
#endif
    {SYS_execve, {0, -1}, {-1, -1}},   {SYS_chdir, {0, -1}, {-1, -1}},    {SYS_chroot, {0, -1}, {-1, -1}},
    {SYS_openat, {1, -1}, {0, -1}},    {SYS_openat2, {1, -1}, {0, -1}},   {SYS_newfstatat, {1, -1}, {0, -1}},
    {SYS_faccessat, {1, -1}, {0, -1}}, {SYS_fchmodat, {1, -1}, {0, -1}},  {SYS_fchownat, {1, -1}, {0, -1}},
    {SYS_readlinkat, {1, -1}, {0, -1}}, {SYS_mkdirat, {1, -1}, {0, -1}},  {SYS_mknodat, {1, -1}, {0, -1}},
    {SYS_unlinkat, {1, -1}, {0, -1}},  {SYS_execveat, {1, -1}, {0, -1}},  {SYS_renameat2, {1, 3}, {0, 2}},
    {SYS_linkat, {1, 3}, {0, 2}},      {SYS_symlinkat, {0, 2}, {-1, 1}},
#ifdef SYS_renameat
    {SYS_renameat, {1, 3}, {0, 2}},
#endif
};
constexpr int kOpenHowArg = 2;

// A path a file syscall names, as the target wrote it.
struct NamedPath {
  std::string bytes;
  bool has_dirfd;  // an *at syscall: relative to dirfd (which may be AT_FDCWD), else to the cwd
  int dirfd;
};

struct FilePaths {
  NamedPath paths[2];
  int count = 0;
  bool has_open_how = false;
  uint64_t open_how_flags = 0;
};

// The NUL-terminated string at addr in pid's memory, PATH_MAX bytes at most with its NUL (the
// kernel refuses longer paths). One page at a time: process_vm_readv's man page lets a read that
// reaches an unmapped page fail whole (partial transfers only at iovec granularity), and a path
// may end just before one. Almost every path lies within one page: one process_vm_readv.
bool ReadPathString(pid_t pid, uint64_t addr, std::string* out) {
  static const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  if (addr == 0) return false;
  char buf[PATH_MAX];
  size_t got = 0;
  while (got < sizeof(buf)) {
    uint64_t at = addr + got;
    size_t chunk = std::min((size_t)(page - at % page), sizeof(buf) - got);
    struct iovec local = {buf + got, chunk};
    struct iovec remote = {reinterpret_cast<void*>(at), chunk};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return false;
    if (const char* nul = static_cast<const char*>(memchr(buf + got, 0, (size_t)n))) {
      out->assign(buf, (size_t)(nul - buf));
      return true;
    }
    got += (size_t)n;
  }
  return false;
}

// The paths a file syscall of kPathArgs names; false for other syscalls, an unreadable path (the
// syscall then fails with EFAULT or ENAMETOOLONG and touches nothing) or a stale notification.
bool ReadFilePaths(int listener, const struct seccomp_notif& req, FilePaths* out) {
  if (req.data.arch != kHostAuditArch) return false;
  const PathArgs* def = std::find_if(std::begin(kPathArgs), std::end(kPathArgs), [&](const PathArgs& d) { return d.nr == (long)req.data.nr; });
  if (def == std::end(kPathArgs)) return false;
  for (int i = 0; i < 2 && def->path[i] >= 0; i++) {
    NamedPath& p = out->paths[out->count++];
    if (!ReadPathString(req.pid, req.data.args[def->path[i]], &p.bytes)) return false;
    p.has_dirfd = def->dirfd[i] >= 0;
    p.dirfd = p.has_dirfd ? (int)req.data.args[def->dirfd[i]] : AT_FDCWD;
  }
  if (req.data.nr == SYS_openat2) {
    uint64_t how = req.data.args[kOpenHowArg];
    struct iovec local = {&out->open_how_flags, sizeof(out->open_how_flags)};
    struct iovec remote = {reinterpret_cast<void*>(how), sizeof(out->open_how_flags)};
    out->has_open_how = how != 0 && process_vm_readv(req.pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(out->open_how_flags);
  }
  uint64_t id = req.id;
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

Napi::Object NotificationObject(Napi::Env env, const struct seccomp_notif& req, const SocketTarget* target, const FilePaths* files) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", (double)req.pid);
  o.Set("nr", req.data.nr);
  o.Set("arch", (double)req.data.arch);
  Napi::Array args = Napi::Array::New(env, 6);
  for (uint32_t i = 0; i < 6; i++) args.Set(i, Napi::BigInt::New(env, (uint64_t)req.data.args[i]));
  o.Set("args", args);
  if (target) {
    // bind's is the jail's own address, no destination: a field apart, so no reader takes it for one.
    o.Set(req.data.nr == SYS_bind ? "bindAddr" : "sockaddr", Napi::Buffer<unsigned char>::Copy(env, target->addr, target->addr_len));
    o.Set("socketType", target->type);
  }
  if (files) {
    Napi::Array paths = Napi::Array::New(env, files->count);
    for (int i = 0; i < files->count; i++) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("path", Napi::Buffer<char>::Copy(env, files->paths[i].bytes.data(), files->paths[i].bytes.size()));
      if (files->paths[i].has_dirfd) p.Set("dirfd", files->paths[i].dirfd);
      paths.Set(i, p);
    }
    o.Set("paths", paths);
    if (files->has_open_how) o.Set("openHowFlags", Napi::BigInt::New(env, files->open_how_flags));
  }
  return o;
}

void OnReadable(uv_poll_t* handle, int status, int) {
  NotifyWatch* w = static_cast<NotifyWatch*>(handle->data);
  // SECCOMP_IOCTL_NOTIF_RECV blocks when nothing is pending, so look first. POLLHUP: every
  // process under the filter is gone; nothing more can come.
  struct pollfd p = {w->fd, POLLIN, 0};
  if (status < 0 || poll(&p, 1, 0) < 0 || (p.revents & POLLIN) == 0) {
    if (status < 0 || (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) uv_poll_stop(handle);
    return;
  }
  struct seccomp_notif req = {};
  // ENOENT: the target was killed after the poll; its notification is gone.
  if (ioctl(w->fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return;
  SocketTarget target;
  bool has_target = ReadSocketTarget(w->fd, req, w->read_paths, &target);
  FilePaths files;
  bool has_files = w->read_paths && !has_target && ReadFilePaths(w->fd, req, &files);
  {
    Napi::Env env(w->env);
    Napi::HandleScope scope(env);
    // MakeCallback (not Call) so promise jobs queued by the callback run right after it.
    w->callback.MakeCallback(env.Global(), {NotificationObject(env, req, has_target ? &target : nullptr, has_files ? &files : nullptr)}, *w->context);
  }
  struct seccomp_notif_resp resp = {};
  resp.id = req.id;
  resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  // ENOENT: the target died or was interrupted by a signal meanwhile; nothing to answer.
  while (ioctl(w->fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno == EINTR) {
  }
}

}  // namespace

// watchNotifications(fd, callback, readPaths): takes over the listener fd (closed by
// unwatchNotifications; still the caller's if this throws) and calls callback({pid, nr, arch,
// args: bigint[6], ...}) for each notification, before continuing the syscall. readPaths: also
// read the paths of file syscalls and bind's address (the cost of a process_vm_readv or two, paid
// only by watchers that report them).
Napi::Value WatchNotifications(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsFunction() || !info[2].IsBoolean()) {
    Napi::TypeError::New(env, "watchNotifications(fd: number, callback: function, readPaths: boolean)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "watchNotifications: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (Watches().count(fd) != 0) {
    Napi::Error::New(env, "watchNotifications: fd " + std::to_string(fd) + " is already watched").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  NotifyWatch* w = new NotifyWatch();
  w->env = env;
  w->fd = fd;
  w->read_paths = info[2].As<Napi::Boolean>().Value();
  w->callback = Napi::Persistent(info[1].As<Napi::Function>());
  w->context = new Napi::AsyncContext(env, "jail.notify");
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    delete w->context;
    delete w;
    Napi::Error::New(env, std::string("watchNotifications: ") + uv_strerror(rc)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_poll_start(&w->poll, UV_READABLE, OnReadable);
  Watches()[fd] = w;
  return env.Undefined();
}

// unwatchNotifications(fd): stops answering and closes the listener. Notified syscalls still
// pending, or made later by a process that outlived the jail, then fail with ENOSYS.
Napi::Value UnwatchNotifications(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "unwatchNotifications(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto it = Watches().find(info[0].As<Napi::Number>().Int32Value());
  if (it == Watches().end()) return env.Undefined();
  NotifyWatch* w = it->second;
  Watches().erase(it);
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
  return env.Undefined();
}

}  // namespace jail
