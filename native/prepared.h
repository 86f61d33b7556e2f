// A prepared jail: a ChildSpec plus the storage it points into and the parent-side steps.
//
// Built on the Node main thread (prepare.cc, from a JailPlan) or in the -Me launcher (blob.cc,
// from a serialized one). Allocation happens only while building; after clone the child reads
// it through the spec and never allocates.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <deque>
#include <string>
#include <vector>

#include "spec.h"

namespace jail {

constexpr int kPlanVersion = 5;

struct FileWrite {
  std::string path;
  std::string content;  // "{pid}" is replaced by the child's pid when written
};

struct PreparedJail {
  ChildSpec spec = {};

  // Parent-side steps between clone and the go byte.
  std::string uid_map;
  std::string gid_map;
  std::string setgroups;  // "" = don't write
  std::vector<std::string> newuidmap;  // argv without the pid; empty = not used
  std::vector<std::string> newgidmap;
  std::vector<FileWrite> cgroup_writes;
  bool clone_into_cgroup = false;
  // Clone with CLONE_VM (the child runs in this process's memory until execve). The plan turns it
  // off when a step of the child would change what the kernel keeps per memory owner.
  bool clone_vm = false;
  int cgroup_fd = -1;   // borrowed from the caller, not closed here
  // The child waits for a byte on net_gate_fds[0] (the supervisor's network link is up); both
  // ends are borrowed from the caller. -1, -1 = no link.
  bool net_gate = false;
  int net_gate_fds[2] = {-1, -1};
  std::string net_rules;  // RTM_NEWRULE messages (net_rule_message.h)
  int devnull_fd = -1;  // owned

  PreparedJail() = default;
  PreparedJail(const PreparedJail&) = delete;
  PreparedJail& operator=(const PreparedJail&) = delete;
  ~PreparedJail();

  // Storage the spec points into. A deque never moves its elements.
  std::deque<std::string> strings;
  std::vector<MountOpSpec> mounts;
  std::vector<RlimitSpec> rlimits;
  std::vector<gid_t> groups;
  std::vector<int> keep_fds;
  std::vector<struct sock_filter> filter;
  // The plan's user-notification filter; `listener_filter` is it behind the handshake's prologue,
  // built once the launch knows its pipes (BuildListenerFilter, unotify.h).
  std::vector<struct sock_filter> listener_body;
  std::vector<struct sock_filter> listener_filter;
  std::vector<std::string> argv_strings;
  std::vector<std::string> envp_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;

  // Moves `s` into `strings` and returns its C string, valid as long as this PreparedJail.
  const char* StoreString(std::string s) {
    strings.push_back(std::move(s));
    return strings.back().c_str();
  }
};

// Points the spec at the storage (arrays, argv/envp) and opens /dev/null for stdio entries that
// are -1. Returns 0 or an errno. Call once, after the storage is complete.
int FinalizeSpec(PreparedJail& j);

// Re-checks, right before clone, the caller's fds that the child will dup or keep: the stdio
// sources, the pass fds, the exec fd and the cgroup fd. Returns the first one that is no longer
// open, or that is one of `own` (the fds the launch itself opened after PrepareJail: its go and
// report pipes), or -1 when all are fine.
//
// Why: PrepareJail (prepare.h) checks them on the main thread, but the launch runs later, and
// the caller may close one in between; the launch's pipes can then take its number. A pass fd or stdio source
// that is really the report pipe's write end loses close-on-exec in the child, so the parent
// never sees EOF and the launch hangs before the time limit is armed.
//
// Contract: call it after every fd of the launch is open and before clone, on the launching
// thread; refuse the launch (stage "fds", opIndex = the returned fd, EBADF) when it returns >= 0.
// It reads `j` and the fd table only; it allocates nothing and is async-signal-safe.
int CheckChildFds(const PreparedJail& j, const int* own, size_t own_len);

}  // namespace jail
