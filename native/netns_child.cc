// The clone-helper child of OpenNetnsSockets (netns_sockets.cc): it joins a jail's user namespace
// (rootless: that gives it CAP_NET_ADMIN over the jail's network namespace; the supervisor owns
// that user namespace) and network namespace, brings `lo` up, and makes the sockets the
// supervisor asked for. It shares the parent's fd table (CLONE_FILES), so each socket it puts in
// place of a reserved fd is the parent's once it exits.
//
// Runs in: a fork-like clone (no CLONE_VM: setns into a user namespace is refused to a process
// that shares its memory; no CLONE_FS, for the same reason) of the Node process, which had other
// threads: raw syscalls only (docs/architecture.md §4), checked on the object code by
// test/native/core/after-clone.test.ts (the entry is named ChildEntry for it).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/prctl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include "child.h"
#include "netns_sockets.h"
#include "sys.h"

namespace jail {
namespace netns {

namespace {

[[noreturn]] void Fail(const NetnsSocketsJob& job, int step, long ret) {
  NetnsReport r;
  r.step = step;
  r.err = SysErr(ret);
  if (r.err == 0) r.err = EINVAL;
  Sys(SYS_write, job.report_fd, &r, sizeof(r));
  SysExit(1);
}

// socket, bind to loopback port 0 (or a netlink address), listen for a stream; returns fd or -errno.
long MakeSocket(const NetnsSocketSpec& s) {
  long fd = Sys(SYS_socket, s.family, s.type | SOCK_CLOEXEC | SOCK_NONBLOCK, s.protocol);
  if (fd < 0) return fd;
  long r;
  if (s.family == AF_INET) {
    struct sockaddr_in a;
    char* b = reinterpret_cast<char*>(&a);
    for (unsigned i = 0; i < sizeof(a); i++) b[i] = 0;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = __builtin_bswap32(0x7f000001u);
    r = Sys(SYS_bind, fd, &a, sizeof(a));
  } else if (s.family == AF_INET6) {
    struct sockaddr_in6 a;
    char* b = reinterpret_cast<char*>(&a);
    for (unsigned i = 0; i < sizeof(a); i++) b[i] = 0;
    a.sin6_family = AF_INET6;
    a.sin6_addr.s6_addr[15] = 1;
    r = Sys(SYS_bind, fd, &a, sizeof(a));
  } else {
    struct sockaddr_nl a;
    char* b = reinterpret_cast<char*>(&a);
    for (unsigned i = 0; i < sizeof(a); i++) b[i] = 0;
    a.nl_family = AF_NETLINK;
    r = Sys(SYS_bind, fd, &a, sizeof(a));
  }
  if (r == 0 && s.type == SOCK_STREAM) r = Sys(SYS_listen, fd, 128);
  if (r < 0) {
    Sys(SYS_close, fd);
    return r;
  }
  return fd;
}

}  // namespace

void ChildEntry(void* arg) {
  const NetnsSocketsJob& job = *static_cast<const NetnsSocketsJob*>(arg);
  long r;
  if (job.userns_fd >= 0 && (r = Sys(SYS_setns, job.userns_fd, CLONE_NEWUSER)) < 0) Fail(job, kNetnsUser, r);
  if ((r = Sys(SYS_setns, job.netns_fd, CLONE_NEWNET)) < 0) Fail(job, kNetnsNet, r);
  // Loopback listeners need `lo` up now; the jail's init, which brings it up too, still waits
  // on its network gate.
  int err = ChildLoopbackUp();
  if (err != 0) Fail(job, kNetnsLoopback, -err);
  for (int i = 0; i < job.count; i++) {
    long fd = MakeSocket(job.specs[i]);
    if (fd < 0) Fail(job, i, fd);
    if ((r = Sys(SYS_dup3, fd, job.specs[i].reserved_fd, O_CLOEXEC)) < 0) Fail(job, i, r);
    Sys(SYS_close, fd);
  }
  SysExit(0);
}

}  // namespace netns

namespace netns_exec {

void ChildEntry(void* arg) {
  const NetnsExecJob& job = *static_cast<const NetnsExecJob*>(arg);
  if (Sys(SYS_dup3, job.stdin_fd, 0, 0) < 0 || Sys(SYS_dup3, job.stderr_fd, 1, 0) < 0 || Sys(SYS_dup3, job.stderr_fd, 2, 0) < 0) SysExit(kExecStdio);
  if (job.userns_fd >= 0 && Sys(SYS_setns, job.userns_fd, CLONE_NEWUSER) < 0) SysExit(kExecUser);
  if (Sys(SYS_setns, job.netns_fd, CLONE_NEWNET) < 0) SysExit(kExecNet);
  if (job.userns_fd >= 0) {
    struct __user_cap_header_struct header;
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    struct __user_cap_data_struct data[2];
    if (Sys(SYS_capget, &header, data) < 0) SysExit(kExecCaps);
    data[CAP_NET_ADMIN / 32].inheritable |= 1u << (CAP_NET_ADMIN % 32);
    if (Sys(SYS_capset, &header, data) < 0) SysExit(kExecCaps);
    if (Sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) < 0) SysExit(kExecCaps);
  }
  Sys(SYS_execve, job.path, job.argv, job.envp);
  SysExit(kExecExec);
}

}  // namespace netns_exec
}  // namespace jail
