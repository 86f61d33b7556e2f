// Where the kernel says which syscall a seccomp filter killed.
//
// A process killed by a seccomp KILL action is already a zombie when its parent learns of it,
// and /proc/PID/syscall of a zombie holds nothing. The kernel does log the kill as an audit
// record (type AUDIT_SECCOMP, 1326: "... pid=N ... arch=c000003e syscall=63 ..."). Two ways to
// read it, tried in this order:
//   1. the audit netlink socket's read-only multicast group (needs CAP_AUDIT_READ, i.e. root);
//   2. /dev/kmsg, where the records land when no audit daemon runs (readable by root, or by
//      anyone when kernel.dmesg_restrict is 0).
// TypeScript parses the text; this file only opens and drains.
//
// Runs in: the Node main thread. Both fds are non-blocking and CLOEXEC.
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace jail {

namespace {

constexpr int kAuditNlgrpReadlog = 1;  // AUDIT_NLGRP_READLOG
constexpr int kMaxRecords = 256;

int OpenNetlink() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT);
  if (fd < 0) return -errno;
  struct sockaddr_nl addr = {};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1u << (kAuditNlgrpReadlog - 1);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

int OpenKmsg() {
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  // Only records logged from now on matter.
  if (lseek(fd, 0, SEEK_END) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

}  // namespace

// auditOpen(): {fd, kind: 'netlink' | 'kmsg'} or {fd: -1, errno} (errno of the last attempt).
// The caller owns fd and closes it with close().
Napi::Value AuditOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  int fd = OpenNetlink();
  const char* kind = "netlink";
  if (fd < 0) {
    fd = OpenKmsg();
    kind = "kmsg";
  }
  out.Set("fd", fd < 0 ? -1 : fd);
  out.Set("kind", fd < 0 ? "none" : kind);
  out.Set("errno", fd < 0 ? -fd : 0);
  return out;
}

// auditRead(fd, kind): the seccomp record texts available now (at most kMaxRecords).
Napi::Value AuditRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsString()) {
    Napi::TypeError::New(env, "auditRead(fd: number, kind: 'netlink' | 'kmsg')").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool netlink = info[1].As<Napi::String>().Utf8Value() == "netlink";
  Napi::Array out = Napi::Array::New(env);
  uint32_t count = 0;
  alignas(struct nlmsghdr) char buf[8192];
  for (int i = 0; i < kMaxRecords; i++) {
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) continue;  // kmsg: records were overwritten; go on
    if (n <= 0) break;
    if (netlink) {
      // NLMSG_OK/NLMSG_NEXT work on a signed length: NLMSG_NEXT subtracts the aligned length of
      // each message, which may take it below zero after the last one.
      int len = (int)n;
      for (struct nlmsghdr* h = reinterpret_cast<struct nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type != AUDIT_SECCOMP) continue;
        out.Set(count++, Napi::String::New(env, static_cast<const char*>(NLMSG_DATA(h)), NLMSG_PAYLOAD(h, 0)));
      }
    } else {
      std::string line(buf, (size_t)n);
      if (line.find("type=1326") != std::string::npos) out.Set(count++, Napi::String::New(env, line));
    }
  }
  return out;
}

}  // namespace jail
