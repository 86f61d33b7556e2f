// Launching one jail: clone, the parent's steps, the handshake.
//
// Runs in: the thread that calls it. In the addon that is the Node main thread: every step here
// is a short non-blocking syscall, and the two things that can take long (the setuid id-map
// helpers and the child's own setup) are watched from the event loop by launch_session.cc, never
// waited for on a thread (a hung FUSE mount in a bind source must not stall libuv's pool). The
// -Me launcher (exec_main.cc) is single-threaded and uses the blocking Launch() at the end.
// Phase: prepare (PrepareJail) -> clone -> parent steps (id maps, cgroup writes) -> go byte ->
// EOF (exec succeeded) or a FailureRecord on the report pipe.
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
#include "sys.h"
#include "listener_filter.h"
#include "userns.h"

#ifndef CLONE_CLEAR_SIGHAND  // linux/sched.h of older headers
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

namespace jail {

namespace {

constexpr size_t kChildStackSize = 256 * 1024;
constexpr size_t kGuardSize = 4096;

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// A CLOEXEC pipe whose ends are both above 2. A host program that closed one of its standard
// streams would otherwise get the launch's pipe on fd 0-2, where the child's stdio setup would
// replace it: an early EOF would then say "exec'd" while the child still runs in our memory.
int PipeAbove2(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) < 0) return errno;
  for (int i = 0; i < 2; i++) {
    if (fds[i] > 2) continue;
    int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    int err = moved < 0 ? errno : 0;
    close(fds[i]);
    fds[i] = moved;
    if (err != 0) {
      if (fds[1 - i] >= 0) close(fds[1 - i]);
      return err;
    }
  }
  return 0;
}

// Clones the jail init with a pidfd. With j.clone_vm: clone3 with CLONE_VM on `stack` (clone.cc
// says why and why it is safe). Otherwise, and as fallbacks, like fork(): clone3 without CLONE_VM
// (the child continues on its copy of this stack), then clone(2) for kernels without clone3 or
// CLONE_CLEAR_SIGHAND. Raw syscalls, so a fork-like child returns through no libc code. Returns
// the pid (0 in a fork-like child, which then runs ChildMain) or -errno.
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
  // oom_score_adj is per memory owner: the child must have memory of its own to set it, whatever
  // the plan says.
  if (j.clone_vm && !j.spec.set_oom_score_adj && stack->Allocate()) {
    struct clone_args vm = args;
    vm.flags |= CLONE_VM;
    vm.stack = (uint64_t)(uintptr_t)stack->base + kGuardSize;
    vm.stack_size = kChildStackSize;
    long pid = CloneVm(&vm, ChildEntry, &j.spec);
    if (pid >= 0 || (pid != -ENOSYS && pid != -EINVAL && pid != -E2BIG)) return pid;
  }
  long pid = Sys(SYS_clone3, &args, sizeof(args));
  if ((pid == -ENOSYS || pid == -E2BIG || pid == -EINVAL) && !j.clone_into_cgroup) {
    unsigned long flags = (unsigned long)j.spec.clone_flags | CLONE_PIDFD | SIGCHLD;
    pid = Sys(SYS_clone, flags, nullptr, pidfd, nullptr, 0);
  }
  return pid;
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

}  // namespace

ChildStack::~ChildStack() {
  if (base != nullptr) munmap(base, size);
}

bool ChildStack::Allocate() {
  size = kChildStackSize + kGuardSize;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return false;
  base = p;
  return mprotect(base, kGuardSize, PROT_NONE) == 0;
}

LaunchState::~LaunchState() {
  CloseFd(&go_write);
  CloseFd(&report_read);
}

int LaunchClone(PreparedJail& j, LaunchState* st, Stage* stage, int* op_index) {
  *stage = kStageClone;
  *op_index = -1;
  int go[2], report[2];
  if (int err = PipeAbove2(go)) return err;
  if (int err = PipeAbove2(report)) {
    close(go[0]);
    close(go[1]);
    return err;
  }
  st->go_write = go[1];
  st->report_read = report[0];
  fcntl(st->report_read, F_SETFL, O_NONBLOCK);
  j.spec.go_fd = go[0];
  j.spec.go_write_fd = go[1];
  j.spec.report_fd = report[1];
  j.spec.parent_pid = getpid();
  BuildListenerFilter(j);
  const int own[] = {go[0], go[1], report[0], report[1]};
  if (int fd = CheckChildFds(j, own, 4); fd >= 0) {
    close(go[0]);
    close(report[1]);
    *stage = kStageFds;
    *op_index = fd;
    return EBADF;
  }

  // With every signal blocked the child cannot run one of Node's handlers before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  long cloned = CloneChild(j, &st->pidfd, &st->stack);
  if (cloned == 0) ChildMain(j.spec);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(go[0]);
  close(report[1]);
  if (cloned < 0) return (int)-cloned;
  st->pid = (pid_t)cloned;
  *stage = kStageNone;
  return 0;
}

int RunParentStep(PreparedJail& j, LaunchState& st, int step, pid_t* helper, Stage* stage, int* op_index) {
  *helper = -1;
  *stage = kStageIdmap;
  switch (step) {
    case kStepSetgroups:
      *op_index = 0;
      return j.setgroups.empty() ? 0 : WriteProcFile(st.pid, "setgroups", j.setgroups);
    case kStepGidMap:
      *op_index = 1;
      return j.gid_map.empty() ? 0 : WriteProcFile(st.pid, "gid_map", j.gid_map);
    case kStepNewgidmap:
      *op_index = 3;
      return j.newgidmap.empty() ? 0 : SpawnIdmapHelper(j.newgidmap, st.pid, helper);
    case kStepUidMap:
      *op_index = 2;
      return j.uid_map.empty() ? 0 : WriteProcFile(st.pid, "uid_map", j.uid_map);
    case kStepNewuidmap:
      *op_index = 4;
      return j.newuidmap.empty() ? 0 : SpawnIdmapHelper(j.newuidmap, st.pid, helper);
    case kStepCgroup:
      *stage = kStageCgroup;
      return WriteCgroupFiles(j, st.pid, op_index);
    case kStepGo:
      *stage = kStageHandshake;
      *op_index = -1;
      return write(st.go_write, "G", 1) == 1 ? 0 : errno;
  }
  *stage = kStageHandshake;
  return EINVAL;
}

int ReadReport(int fd, FailureRecord* rec) {
  ssize_t n;
  do {
    n = read(fd, rec, sizeof(*rec));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0) return 0;
  if (n == (ssize_t)sizeof(*rec) && rec->stage > kStageNone && rec->stage < kStageCount) return 1;
  if (n == (ssize_t)sizeof(*rec) && rec->stage == kStageNone && rec->op_index >= 0 && rec->err == 0) return 2;
  return -EPROTO;  // the child died mid-report
}

LaunchOutcome Launch(PreparedJail& j) {
  LaunchOutcome out;
  LaunchState st;
  if ((out.err = LaunchClone(j, &st, &out.stage, &out.op_index)) != 0) return out;
  int flags = fcntl(st.report_read, F_GETFL);
  fcntl(st.report_read, F_SETFL, flags & ~O_NONBLOCK);
  Stage stage = kStageNone;
  for (int step = 0; step < kStepCount && out.err == 0; step++) {
    pid_t helper = -1;
    out.err = RunParentStep(j, st, step, &helper, &stage, &out.op_index);
    int status = 0;
    while (helper > 0 && waitpid(helper, &status, 0) < 0) {
      if (errno != EINTR) out.err = errno;
      if (errno != EINTR) break;
    }
    if (helper > 0 && out.err == 0) out.err = IdmapHelperResult(status);
  }
  FailureRecord rec;
  int got = out.err == 0 ? ReadReport(st.report_read, &rec) : 0;
  // A listener handshake: the single-threaded launcher has no event loop to answer a listener
  // with, and the planner never gives it one; refuse rather than leave the child waiting.
  if (got == 2) got = -EPROTO;
  if (out.err == 0 && got == 0) {
    out.pid = st.pid;
    out.pidfd = st.pidfd;
    return out;
  }
  if (out.err != 0) {
    out.stage = stage;
  } else if (got == 1) {
    out.stage = (Stage)rec.stage;
    out.op_index = rec.op_index;
    out.err = rec.err;
  } else {
    out.stage = kStageHandshake;
    out.err = -got;
  }
  // The child must not go on (or be left waiting for a go byte that never comes).
  syscall(SYS_pidfd_send_signal, st.pidfd, SIGKILL, nullptr, 0);
  int status;
  while (waitpid(st.pid, &status, __WALL) < 0 && errno == EINTR) {
  }
  close(st.pidfd);
  return out;
}

const char* StageName(int32_t stage) {
  static const char* const names[kStageCount] = {
      "none",     "clone",       "idmap",    "cgroup", "handshake",       "oom_score_adj", "setsid",
      "setid",    "keyring",     "hostname", "loopback", "network", "mount",         "chdir",         "rlimit",
      "personality", "disable_tsc", "nice",   "affinity", "core_scheduling", "caps",        "no_new_privs",
      "stdio",    "fds",         "signals",  "seccomp", "execve"};
  return stage >= 0 && stage < kStageCount ? names[stage] : "unknown";
}

}  // namespace jail
