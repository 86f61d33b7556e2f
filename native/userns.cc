// User namespace id maps, written by the parent.
//
// Runs in: the launching worker thread, after clone and before the go byte, while the child
// waits. Constraints: none beyond thread safety (this is the parent process); external helpers
// are started with posix_spawn, which is safe in a multi-threaded process.
//
// Order (as the kernel requires): setgroups before gid_map; every map is written in one write.
// As root the maps may name any host id; unprivileged, the plan maps only the caller's own ids
// and denies setgroups, which the kernel demands before an unprivileged gid_map write.
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace jail {

namespace {

int WriteProcFile(pid_t pid, const char* name, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = write(fd, text.data(), text.size());
  int err = n < 0 ? errno : (n == (ssize_t)text.size() ? 0 : EIO);
  close(fd);
  return err;
}

// Runs newuidmap/newgidmap (setuid helpers that check /etc/subuid) with the pid appended.
int RunIdmapHelper(const std::vector<std::string>& argv_in, pid_t pid) {
  std::vector<std::string> args = argv_in;
  // The helper takes the pid first, then the triples.
  args.insert(args.begin() + 1, std::to_string(pid));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  pid_t helper;
  int rc = posix_spawn(&helper, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) return rc;
  int status;
  while (waitpid(helper, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EPERM;
}

}  // namespace

int WriteIdMaps(const PreparedJail& j, pid_t pid, int* op_index) {
  int err;
  *op_index = 0;
  if (!j.setgroups.empty() && (err = WriteProcFile(pid, "setgroups", j.setgroups)) != 0) return err;
  *op_index = 1;
  if (!j.gid_map.empty() && (err = WriteProcFile(pid, "gid_map", j.gid_map)) != 0) return err;
  *op_index = 3;
  if (!j.newgidmap.empty() && (err = RunIdmapHelper(j.newgidmap, pid)) != 0) return err;
  *op_index = 2;
  if (!j.uid_map.empty() && (err = WriteProcFile(pid, "uid_map", j.uid_map)) != 0) return err;
  *op_index = 4;
  if (!j.newuidmap.empty() && (err = RunIdmapHelper(j.newuidmap, pid)) != 0) return err;
  return 0;
}

}  // namespace jail
