// jail-exec: the launcher behind `jail -Me` (execve mode: no Node supervisor).
//
// Node cannot enter a new user namespace itself (unshare(CLONE_NEWUSER) refuses multi-threaded
// processes), so for -Me the addon serializes the prepared jail into a memfd and execs this
// small single-threaded program in place of Node. It launches the jail with the very same code
// as the addon (Launch: clone3, id maps, cgroup writes, the child sequence) and then only waits:
// it forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the jail, enforces the time limit
// with alarm() (which nsjail's -Me does not), and exits with the program's status (128+n for
// death by signal n, 137 on timeout). It stays as the parent because a process cannot move
// itself into a new PID namespace; with the default namespaces the program is PID 1 there.
//
// Failure sentences come from TypeScript in the blob; this file only appends strerror.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "blob.h"
#include "launch.h"

namespace {

volatile sig_atomic_t g_pidfd = -1;
volatile sig_atomic_t g_timed_out = 0;

void Forward(int sig) {
  if (g_pidfd >= 0) syscall(SYS_pidfd_send_signal, (int)g_pidfd, sig, nullptr, 0);
}

void OnAlarm(int) {
  g_timed_out = 1;
  if (g_pidfd >= 0) syscall(SYS_pidfd_send_signal, (int)g_pidfd, SIGKILL, nullptr, 0);
}

bool ReadAll(int fd, std::string* out) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, (size_t)n);
  }
}

int Wait(const jail::LaunchOutcome& out, uint32_t time_limit) {
  g_pidfd = out.pidfd;
  struct sigaction sa = {};
  sa.sa_handler = Forward;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaction(sig, &sa, nullptr);
  if (time_limit > 0) {
    sa.sa_handler = OnAlarm;
    sigaction(SIGALRM, &sa, nullptr);
    alarm(time_limit);
  }
  int status = 0;
  while (waitpid(out.pid, &status, __WALL) < 0) {
    if (errno != EINTR) return 255;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (g_timed_out && WTERMSIG(status) == SIGKILL) return 137;
  return 128 + WTERMSIG(status);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || strcmp(argv[1], "--plan-fd") != 0) {
    fprintf(stderr, "jail-exec: this program is started by `jail -Me`, not by hand\n");
    return 255;
  }
  int fd = atoi(argv[2]);
  std::string bytes;
  if (fd < 3 || !ReadAll(fd, &bytes)) {
    fprintf(stderr, "jail -Me: cannot read the plan from fd %s: %s\n", argv[2], strerror(errno));
    return 255;
  }
  close(fd);
  jail::ExecveExtras extras;
  std::string error;
  std::unique_ptr<jail::PreparedJail> j = jail::DeserializeJail(bytes, &extras, &error);
  if (!j) {
    fprintf(stderr, "jail -Me: %s\n", error.c_str());
    return 255;
  }
  if (int err = jail::FinalizeSpec(*j)) {
    fprintf(stderr, "jail -Me: open /dev/null: %s\n", strerror(err));
    return 255;
  }
  jail::LaunchOutcome out = jail::Launch(*j);
  if (out.stage != jail::kStageNone) {
    size_t at = out.stage == jail::kStageMount && out.op_index >= 0 ? jail::kStageCount + (size_t)out.op_index : (size_t)out.stage;
    const char* text = at < extras.failure_texts.size() ? extras.failure_texts[at].c_str() : jail::StageName(out.stage);
    fprintf(stderr, "[E] %s: %s\n", text, strerror(out.err));
    return 255;
  }
  return Wait(out, extras.time_limit);
}
