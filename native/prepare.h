// Turning a JavaScript JailPlan into a ChildSpec, before clone.
//
// Runs in: the Node main thread, inside an addon call. Allocation is fine here: everything the
// child will need is allocated now and owned by the PreparedJail.
#pragma once

#include <linux/filter.h>
#include <napi.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "spec.h"

namespace jail {

constexpr int kPlanVersion = 1;

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
  int cgroup_fd = -1;   // borrowed from the caller, not closed here
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
  std::vector<char*> argv;
  std::vector<char*> envp;

  const char* Keep(std::string s) {
    strings.push_back(std::move(s));
    return strings.back().c_str();
  }
};

// Reads and validates `plan` and the launch resources. On a structural error, throws a
// JavaScript TypeError naming the field and returns null.
std::unique_ptr<PreparedJail> PrepareJail(Napi::Env env, Napi::Object plan, Napi::Object resources);

}  // namespace jail
