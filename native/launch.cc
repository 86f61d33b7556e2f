// Launching one jail: clone, the parent's steps, the handshake.
//
// Runs in: a libuv worker thread (LaunchWorker::Execute), so the Node event loop keeps running
// while the child builds its jail. Only the clone itself and ChildMain cross into the child.
// Phase: prepare (main thread, PrepareJail) -> clone -> parent steps (id maps, cgroup writes) ->
// go byte -> wait for EOF (exec succeeded) or a FailureRecord on the report pipe.
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clone.h"
#include "userns.h"

#ifndef CLONE_CLEAR_SIGHAND  // linux/sched.h of older headers
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

namespace jail {

namespace {

struct Pipe {
  int read = -1;
  int write = -1;
  ~Pipe() {
    if (read >= 0) close(read);
    if (write >= 0) close(write);
  }
};

int OpenPipe(Pipe* p) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return errno;
  p->read = fds[0];
  p->write = fds[1];
  return 0;
}

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

constexpr size_t kChildStackSize = 256 * 1024;

// The child's stack for a CLONE_VM launch, with a guard page below it.
struct ChildStack {
  void* base = MAP_FAILED;
  size_t size = kChildStackSize + 4096;
  ~ChildStack() {
    if (base != MAP_FAILED) munmap(base, size);
  }
  bool Allocate() {
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    return base != MAP_FAILED && mprotect(base, 4096, PROT_NONE) == 0;
  }
};

void ChildEntry(void* spec) { ChildMain(*static_cast<const ChildSpec*>(spec)); }

// Clones the jail init with a pidfd. First choice: clone3 with CLONE_VM on `stack` (clone.cc
// says why and why it is safe). Fallbacks, each like fork(): clone3 without CLONE_VM (the child
// continues on its copy of this stack), then clone(2) for kernels without clone3 or
// CLONE_CLEAR_SIGHAND. Returns the pid (0 in a fork-like child) or -errno.
long CloneChild(PreparedJail& j, int* pidfd, ChildStack* stack) {
  struct clone_args args;
  memset(&args, 0, sizeof(args));
  args.flags = j.spec.clone_flags | CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
  args.pidfd = (uint64_t)(uintptr_t)pidfd;
  args.exit_signal = SIGCHLD;
  if (j.clone_into_cgroup) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)j.cgroup_fd;
  }
  if (stack->Allocate()) {
    struct clone_args vm = args;
    vm.flags |= CLONE_VM;
    vm.stack = (uint64_t)(uintptr_t)stack->base + 4096;
    vm.stack_size = kChildStackSize;
    long pid = CloneVm(&vm, ChildEntry, &j.spec);
    if (pid >= 0 || (pid != -ENOSYS && pid != -EINVAL && pid != -E2BIG)) return pid;
  }
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL) && !j.clone_into_cgroup) {
    unsigned long flags = (unsigned long)j.spec.clone_flags | CLONE_PIDFD | SIGCHLD;
    pid = syscall(SYS_clone, flags, nullptr, pidfd, nullptr, 0);
  }
  return pid < 0 ? -errno : pid;
}

// The parent's writes into the cgroup files of the jail ("{pid}" becomes the child's pid).
int WriteCgroupFiles(const PreparedJail& j, pid_t pid, int* op_index) {
  std::string pid_text = std::to_string(pid);
  for (size_t i = 0; i < j.cgroup_writes.size(); i++) {
    *op_index = (int)i;
    std::string content = j.cgroup_writes[i].content;
    for (size_t at; (at = content.find("{pid}")) != std::string::npos;) content.replace(at, 5, pid_text);
    int fd = open(j.cgroup_writes[i].path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t n = write(fd, content.data(), content.size());
    int err = n < 0 ? errno : 0;
    close(fd);
    if (err != 0) return err;
  }
  return 0;
}

// Kills and reaps a child that will not be handed to JavaScript.
void Discard(pid_t pid, int pidfd) {
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  int status;
  while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
  }
}

}  // namespace

LaunchOutcome Launch(PreparedJail& j) {
  LaunchOutcome out;
  Pipe go, report;
  if ((out.err = OpenPipe(&go)) != 0 || (out.err = OpenPipe(&report)) != 0) {
    out.stage = kStageClone;
    return out;
  }
  j.spec.go_fd = go.read;
  j.spec.report_fd = report.write;
  const int own[] = {go.read, go.write, report.read, report.write};
  if (int fd = CheckChildFds(j, own, 4); fd >= 0) {
    out.stage = kStageFds;
    out.op_index = fd;
    out.err = EBADF;
    return out;
  }

  // With every signal blocked the child cannot run one of Node's handlers before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  ChildStack stack;  // freed on return: by then the child has exec'd or been reaped
  long cloned = CloneChild(j, &pidfd, &stack);
  if (cloned == 0) ChildMain(j.spec);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  CloseFd(&go.read);
  CloseFd(&report.write);
  if (cloned < 0) {
    out.stage = kStageClone;
    out.err = (int)-cloned;
    return out;
  }
  pid_t pid = (pid_t)cloned;

  int op = -1;
  if ((out.err = WriteIdMaps(j, pid, &op)) != 0) {
    out.stage = kStageIdmap;
  } else if ((out.err = WriteCgroupFiles(j, pid, &op)) != 0) {
    out.stage = kStageCgroup;
  } else if (write(go.write, "G", 1) != 1) {
    out.stage = kStageGo;
    out.err = errno;
  }
  CloseFd(&go.write);
  if (out.stage != kStageNone) {
    out.op_index = op;
    Discard(pid, pidfd);
    close(pidfd);
    return out;
  }

  FailureRecord rec;
  ssize_t n;
  do {
    n = read(report.read, &rec, sizeof(rec));
  } while (n < 0 && errno == EINTR);
  if (n == 0) {
    out.pid = pid;
    out.pidfd = pidfd;
    return out;
  }
  if (n == (ssize_t)sizeof(rec) && rec.stage > kStageNone && rec.stage < kStageCount) {
    out.stage = (Stage)rec.stage;
    out.op_index = rec.op_index;
    out.err = rec.err;
  } else {
    out.stage = kStageGo;  // a torn record: the child died mid-report
    out.err = n < 0 ? errno : EPROTO;
  }
  Discard(pid, pidfd);
  close(pidfd);
  return out;
}

const char* StageName(int32_t stage) {
  static const char* const names[kStageCount] = {
      "none",        "clone",  "idmap",    "cgroup",       "handshake", "oom_score_adj", "setsid",
      "setid",       "hostname", "loopback", "mount",      "chdir",     "rlimit",        "personality",
      "disable_tsc", "nice",   "affinity", "core_scheduling", "caps",   "no_new_privs",  "stdio",
      "fds",         "signals", "seccomp", "execve"};
  return stage >= 0 && stage < kStageCount ? names[stage] : "unknown";
}

}  // namespace jail
