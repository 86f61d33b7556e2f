// Finishing a PreparedJail (see prepared.h). Shared by the addon and the -Me launcher.
#include "prepared.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

namespace jail {

PreparedJail::~PreparedJail() {
  if (devnull_fd >= 0) close(devnull_fd);
}

int FinalizeSpec(PreparedJail& j) {
  ChildSpec& s = j.spec;
  for (int i = 0; i < 3; i++) {
    if (s.stdio[i] >= 0) continue;
    if (j.devnull_fd < 0) j.devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (j.devnull_fd < 0) return errno;
    s.stdio[i] = j.devnull_fd;
  }
  s.groups = j.groups.data();
  s.groups_len = j.groups.size();
  s.mounts = j.mounts.data();
  s.mounts_len = j.mounts.size();
  s.rlimits = j.rlimits.data();
  s.rlimits_len = j.rlimits.size();
  s.keep_fds = j.keep_fds.data();
  s.keep_fds_len = j.keep_fds.size();
  s.net_rules = j.net_rules.data();
  s.net_rules_len = j.net_rules.size();
  s.net_gate_fd = j.net_gate ? j.net_gate_fds[0] : -1;
  s.net_gate_write_fd = j.net_gate ? j.net_gate_fds[1] : -1;
  s.filter = j.filter.empty() ? nullptr : j.filter.data();
  s.filter_len = (unsigned short)j.filter.size();
  j.argv.clear();
  for (std::string& a : j.argv_strings) j.argv.push_back(&a[0]);
  j.argv.push_back(nullptr);
  j.envp.clear();
  for (std::string& e : j.envp_strings) j.envp.push_back(&e[0]);
  j.envp.push_back(nullptr);
  s.argv = j.argv.data();
  s.envp = j.envp.data();
  s.go_fd = -1;
  s.report_fd = -1;
  return 0;
}

int CheckChildFds(const PreparedJail& j, const int* own, size_t own_len) {
  auto bad = [&](int fd) {
    if (fd < 0) return false;
    for (size_t i = 0; i < own_len; i++) {
      if (own[i] == fd) return true;
    }
    return fcntl(fd, F_GETFD) < 0;
  };
  for (int fd : j.spec.stdio) {
    if (bad(fd)) return fd;
  }
  for (int fd : j.keep_fds) {
    if (bad(fd)) return fd;
  }
  if (bad(j.spec.exec_fd)) return j.spec.exec_fd;
  if (bad(j.cgroup_fd)) return j.cgroup_fd;
  for (int fd : j.net_gate_fds) {
    if (bad(fd)) return fd;
  }
  return -1;
}

}  // namespace jail
