// The jail's network namespace, child side: the routing rules that make blocked destinations
// unreachable, and the wait for the supervisor's user-mode network link (pasta).
//
// Runs in: the cloned child, between clone and execve (child.h's constraints: raw syscalls only).
// The rules are whole rtnetlink RTM_NEWRULE messages built by the addon before clone
// (prepare.cc), so the child only sends each one and reads the kernel's acknowledgement.
#include <linux/netlink.h>
#include <sys/socket.h>

#include "child.h"
#include "sys.h"

namespace jail {

int ChildAddNetRules(const ChildSpec& spec, int* op_index) {
  if (spec.net_rules_len == 0) return 0;
  long fd = Sys(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return SysErr(fd);
  struct sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  const char* p = spec.net_rules;
  size_t left = spec.net_rules_len;
  int err = 0;
  for (int i = 0; left >= sizeof(struct nlmsghdr) && err == 0; i++) {
    *op_index = i;
    const struct nlmsghdr* msg = reinterpret_cast<const struct nlmsghdr*>(p);
    long n;
    do {
      n = Sys(SYS_sendto, fd, p, msg->nlmsg_len, 0, &kernel, sizeof(kernel));
    } while (n == -EINTR);
    if (n < 0) {
      err = SysErr(n);
      break;
    }
    // NLM_F_ACK: the answer is one NLMSG_ERROR whose error is 0 on success.
    alignas(struct nlmsghdr) char ack[256];
    do {
      n = Sys(SYS_recvfrom, fd, ack, sizeof(ack), 0, nullptr, nullptr);
    } while (n == -EINTR);
    const struct nlmsghdr* reply = reinterpret_cast<const struct nlmsghdr*>(ack);
    if (n < 0) {
      err = SysErr(n);
    } else if ((size_t)n < sizeof(struct nlmsghdr) + sizeof(struct nlmsgerr) || reply->nlmsg_type != NLMSG_ERROR) {
      err = EPROTO;
    } else {
      err = -reinterpret_cast<const struct nlmsgerr*>(NLMSG_DATA(reply))->error;
    }
    size_t step = NLMSG_ALIGN(msg->nlmsg_len);
    p += step;
    left -= step < left ? step : left;
  }
  Sys(SYS_close, fd);
  return err;
}

// Blocks until the supervisor says the network link is up (one byte); after the mounts, so that
// the link comes up while they are made (the link enters this process's namespaces through fds
// the launch opened right after clone). EOF means the supervisor could not bring the link up:
// the jail must not run without the network it asked for, nor with a half-made one.
int ChildWaitForNetwork(const ChildSpec& spec) {
  if (spec.net_gate_fd < 0) return 0;
  // Our copy of the supervisor's end would keep the pipe from ever reaching EOF.
  Sys(SYS_close, spec.net_gate_write_fd);
  char byte = 0;
  long n;
  do {
    n = Sys(SYS_read, spec.net_gate_fd, &byte, 1);
  } while (n == -EINTR);
  Sys(SYS_close, spec.net_gate_fd);
  if (n == 1) return 0;
  return n < 0 ? SysErr(n) : ECANCELED;
}

}  // namespace jail
