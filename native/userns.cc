// User namespace id maps, written by the parent.
//
// Runs in: the launching thread, after clone and before the go byte, while the child waits.
// Constraints: none beyond thread safety (this is the parent process); the setuid helpers are
// started with posix_spawn, which is safe in a multi-threaded process, and are never waited for
// in a blocking way by the addon (launch_session.cc watches their pidfd from the event loop).
//
// Order (as the kernel requires, see launch.cc): setgroups before gid_map; every map in one
// write. As root the maps may name any host id; unprivileged, the plan maps only the caller's own
// ids and denies setgroups, which the kernel demands before an unprivileged gid_map write.
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace jail {

int WriteProcFile(pid_t pid, const char* name, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = write(fd, text.data(), text.size());
  int err = n < 0 ? errno : (n == (ssize_t)text.size() ? 0 : EIO);
  close(fd);
  return err;
}

int SpawnIdmapHelper(const std::vector<std::string>& argv_in, pid_t pid, pid_t* helper) {
  std::vector<std::string> args = argv_in;
  // The helper takes the pid first, then the triples.
  args.insert(args.begin() + 1, std::to_string(pid));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  return posix_spawn(helper, argv[0], nullptr, nullptr, argv.data(), environ);
}

int IdmapHelperResult(int wstatus) { return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 ? 0 : EPERM; }

}  // namespace jail
