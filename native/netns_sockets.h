// Sockets made inside a jail's network namespace and held by the supervisor (netns_sockets.cc,
// netns_child.cc). Node cannot setns(); a short-lived clone of this process can.
#pragma once

namespace jail {

// One socket to make in the namespace. type SOCK_STREAM: bound to the loopback address of
// `family` on a kernel-chosen port and listening; SOCK_DGRAM: bound the same way; family
// AF_NETLINK: a `protocol` netlink socket, bound. The result replaces `reserved_fd` (an fd the
// parent opened for it), close-on-exec and non-blocking.
struct NetnsSocketSpec {
  int family;
  int type;
  int protocol;
  int reserved_fd;
};

// Where the clone-helper child fails: its record on the report pipe.
enum NetnsStep : int { kNetnsUser = -3, kNetnsNet = -2, kNetnsLoopback = -1 /* 0.. = socket i */ };
struct NetnsReport {
  int step;
  int err;
};

struct NetnsSocketsJob {
  int userns_fd;  // -1: do not enter a user namespace (the parent is root)
  int netns_fd;
  int report_fd;  // write end of a pipe: one NetnsReport on failure, nothing on success
  int count;
  const NetnsSocketSpec* specs;
};

// A program run inside a jail's namespaces (nft, for the nat table): the clone-helper child joins
// them, keeps CAP_NET_ADMIN across execve as an ambient capability when it is not root there
// (a rootless supervisor's uid is not 0 in the jail's user namespace, so execve would drop every
// capability setns gave it), moves the pipes onto its stdio and execs.
struct NetnsExecJob {
  int userns_fd;  // -1: stay in this user namespace (root)
  int netns_fd;
  int stdin_fd;
  int stderr_fd;  // also its stdout
  const char* path;
  char* const* argv;
  char* const* envp;
};
// The helper's exit status when it fails before the program runs.
enum NetnsExecFailure : int { kExecUser = 121, kExecNet = 122, kExecStdio = 123, kExecCaps = 124, kExecExec = 125 };

namespace netns_exec {
[[noreturn]] void ChildEntry(void* job);
}  // namespace netns_exec

namespace netns {
// The helper child's entry: raw syscalls only (it is a copy of a multi-threaded process, see
// docs/architecture.md §4). Enters the namespaces, brings `lo` up, makes the sockets, exits.
[[noreturn]] void ChildEntry(void* job);
}  // namespace netns

}  // namespace jail
