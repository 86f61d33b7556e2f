// The ordered child sequence (docs/architecture.md §4).
//
// Runs in: the cloned child (the future jail init), from clone until execve.
// Constraints: the process is a copy of a multi-threaded Node process with only this thread
// left, so any libc lock may be held forever and thread-local state belongs to a thread that
// still runs in the parent. Every step is therefore a raw system call (sys.h): no libc, no
// errno, no allocation, no exceptions. Failures go to the parent as a FailureRecord on the
// CLOEXEC report pipe; EOF there means execve succeeded.
#include "child.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/securebits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <linux/keyctl.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include "sys.h"

namespace jail {

namespace {

// The kernel's struct sigaction for rt_sigaction (not glibc's).
// _NSIG on every architecture jail supports.
constexpr int kMaxSignal = 64;

struct KernelSigaction {
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  unsigned long mask;
};

// Blocks until the parent's go byte. EOF means the parent died or gave up: exit quietly. The fd
// stays open: the parent holds the write end until the launch is over, so a hang-up on it later
// tells the child that its parent is gone (ChildRearmDeathSignal).
void ChildWaitForGo(const ChildSpec& spec) {
  // Our copy of the parent's end (the fd table was copied at clone) would keep the pipe from
  // ever hanging up: only the parent's own copy may hold it open.
  Sys(SYS_close, spec.go_write_fd);
  char byte = 0;
  for (;;) {
    long n = Sys(SYS_read, spec.go_fd, &byte, 1);
    if (n == 1) break;
    if (n == -EINTR) continue;
    SysExit(255);
  }
}

// The kernel clears the parent-death signal whenever the effective ids change (commit_creds), so
// after ChildSetIds a jail running as another uid would survive a SIGKILLed supervisor. Arm it
// again, then look whether the parent died before that: its end of the go pipe hangs up when the
// last of its fds closes. Without a PID namespace the jail also sees its parent's pid change.
int ChildRearmDeathSignal(const ChildSpec& spec) {
  int err = SysErr(Sys(SYS_prctl, PR_SET_PDEATHSIG, spec.death_signal));
  if (err) return err;
  struct pollfd pfd = {spec.go_fd, POLLIN, 0};
  struct timespec zero = {0, 0};
  long n = Sys(SYS_ppoll, &pfd, 1, &zero, nullptr, 0);
  if (n < 0) return SysErr(n);
  bool hung_up = n == 1 && (pfd.revents & (POLLHUP | POLLERR)) != 0;
  bool reparented = (spec.clone_flags & CLONE_NEWPID) == 0 && Sys(SYS_getppid) != spec.parent_pid;
  if (hung_up || reparented) SysExit(255);
  // The listener handshake reads it once more (it is close-on-exec either way).
  if (spec.listener_filter == nullptr) Sys(SYS_close, spec.go_fd);
  return 0;
}

// A fresh anonymous session keyring: the one inherited from the caller may hold its secrets
// (`keyctl add user s ... @s`), and keyctl(2) reaches it by the special id @s. Kernels built
// without keys have nothing to leak (ENOSYS).
int ChildJoinFreshKeyring() {
  long serial = Sys(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr);
  return serial == -ENOSYS ? 0 : SysErr(serial);
}

// setresgid/setgroups/setresuid to the jail's ids while keeping every capability the user
// namespace gave us: mounts and hostname come after this step.
int ChildSetIds(const ChildSpec& spec) {
  int err;
  if ((err = SysErr(Sys(SYS_prctl, PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP)))) return err;
  if ((err = SysErr(Sys(SYS_setresgid, spec.gid, spec.gid, spec.gid)))) return err;
  if (spec.set_groups && (err = SysErr(Sys(SYS_setgroups, spec.groups_len, spec.groups)))) return err;
  if ((err = SysErr(Sys(SYS_setresuid, spec.uid, spec.uid, spec.uid)))) return err;
  return SysErr(Sys(SYS_prctl, PR_SET_SECUREBITS, 0));
}

int ChildWriteOomScoreAdj(const ChildSpec& spec) {
  long fd = Sys(SYS_openat, AT_FDCWD, "/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return SysErr(fd);
  int err = SysErr(Sys(SYS_write, fd, spec.oom_score_adj, spec.oom_score_adj_len));
  Sys(SYS_close, fd);
  return err;
}

int ChildSetHostname(const ChildSpec& spec) {
  size_t len = 0;
  while (spec.hostname[len] != '\0') len++;
  return SysErr(Sys(SYS_sethostname, spec.hostname, len));
}

// Moves the stdio sources onto 0, 1, 2. Sources may themselves be 0-2 in any order, so each is
// first duplicated above 2 and only then dup3'd into place (which clears CLOEXEC on the target).
int ChildSetupStdio(const ChildSpec& spec, int* op_index) {
  long tmp[3];
  for (int i = 0; i < 3; i++) {
    *op_index = i;
    tmp[i] = Sys(SYS_fcntl, spec.stdio[i], F_DUPFD_CLOEXEC, 3);
    if (tmp[i] < 0) return SysErr(tmp[i]);
  }
  for (int i = 0; i < 3; i++) {
    *op_index = i;
    int err = SysErr(Sys(SYS_dup3, tmp[i], i, 0));
    if (err) return err;
    Sys(SYS_close, tmp[i]);
  }
  return 0;
}

// The smallest fd >= from that the rest of the setup still uses: the report pipe (until execve),
// the go pipe (the listener handshake reads it again), the exec fd. -1 when none is left.
int NextSetupFd(const ChildSpec& spec, int from) {
  int fds[3] = {spec.report_fd, spec.listener_filter != nullptr ? spec.go_fd : -1, spec.exec_fd};
  int best = -1;
  for (int fd : fds) {
    if (fd >= from && (best < 0 || fd < best)) best = fd;
  }
  return best;
}

// Closes every fd above 2 that the program must not get and the setup no longer needs (what the
// busy supervisor had open when it cloned); keeps the --pass_fd ones, inheritable, at their
// numbers. Closed, not only marked close-on-exec: a low RLIMIT_NOFILE (nsjail's default is 32)
// must leave room for the seccomp listener, which is made after the rlimits.
int ChildCloseInheritedFds(const ChildSpec& spec) {
  unsigned int from = 3;
  size_t next_pass = 0;  // keep_fds is sorted ascending by the addon
  for (;;) {
    int pass = next_pass < spec.keep_fds_len ? spec.keep_fds[next_pass] : -1;
    int setup = NextSetupFd(spec, (int)from);
    int keep = pass < 0 ? setup : setup < 0 ? pass : (pass < setup ? pass : setup);
    unsigned int to = keep < 0 ? ~0U : (unsigned int)keep;
    int err;
    if (to > from && (err = SysErr(Sys(SYS_close_range, from, to - 1, 0)))) return err;
    if (keep < 0) return 0;
    if (keep == pass) {
      long flags = Sys(SYS_fcntl, keep, F_GETFD);
      if (flags < 0) return SysErr(flags);
      if ((err = SysErr(Sys(SYS_fcntl, keep, F_SETFD, flags & ~FD_CLOEXEC)))) return err;
      next_pass++;
    }
    from = (unsigned int)keep + 1;
  }
}

// Node ignores SIGPIPE and handles several signals; ignored dispositions survive execve, and
// the parent blocked every signal around clone. Reset every signal the kernel knows (1-64, the
// real-time ones included) to default and unblock everything.
int ChildResetSignals() {
  KernelSigaction dfl = {0 /* SIG_DFL */, 0, 0, 0};
  int err;
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if ((err = SysErr(Sys(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(unsigned long))))) return err;
  }
  unsigned long empty = 0;
  return SysErr(Sys(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, sizeof(empty)));
}

[[noreturn]] void ChildExec(const ChildSpec& spec) {
  long rc;
  if (spec.exec_fd >= 0) {
    rc = Sys(SYS_execveat, spec.exec_fd, "", spec.argv, spec.envp, AT_EMPTY_PATH);
  } else {
    rc = Sys(SYS_execve, spec.exec_path, spec.argv, spec.envp);
  }
  ChildFail(spec, kStageExecve, -1, SysErr(rc));
}

}  // namespace

// A fresh network namespace starts with `lo` down; nsjail brings it up so loopback works.
int ChildLoopbackUp() {
  long fd = Sys(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysErr(fd);
  struct ifreq ifr = {};
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  int err = SysErr(Sys(SYS_ioctl, fd, SIOCGIFFLAGS, &ifr));
  if (!err) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    err = SysErr(Sys(SYS_ioctl, fd, SIOCSIFFLAGS, &ifr));
  }
  Sys(SYS_close, fd);
  return err;
}

void ChildFail(const ChildSpec& spec, Stage stage, int op_index, int err) {
  FailureRecord rec = {stage, op_index, err};
  while (Sys(SYS_write, spec.report_fd, &rec, sizeof(rec)) == -EINTR) {
  }
  SysExit(255);
}

void ChildEntry(void* spec) { ChildMain(*static_cast<const ChildSpec*>(spec)); }

void ChildMain(const ChildSpec& spec) {
  int op = -1;
  int err;

  // If the launching thread dies, the jail dies with it (and with a PID namespace, every process
  // in it). Set first, so there is no window without it.
  if ((err = SysErr(Sys(SYS_prctl, PR_SET_PDEATHSIG, spec.death_signal)))) ChildFail(spec, kStageHandshake, -1, err);
  ChildWaitForGo(spec);

  // Per process only because the launch gives this child memory of its own when the plan sets
  // it (clone.cc): with CLONE_VM the kernel would apply it to the supervisor too.
  if (spec.set_oom_score_adj && (err = ChildWriteOomScoreAdj(spec))) ChildFail(spec, kStageOomScoreAdj, -1, err);
  if ((err = ChildSetIds(spec))) ChildFail(spec, kStageSetid, -1, err);
  if ((err = ChildRearmDeathSignal(spec))) ChildFail(spec, kStageHandshake, -1, err);
  if ((err = ChildJoinFreshKeyring())) ChildFail(spec, kStageKeyring, -1, err);
  if (spec.setsid && (err = SysErr(Sys(SYS_setsid)))) ChildFail(spec, kStageSetsid, -1, err);
  if (spec.hostname != nullptr && (err = ChildSetHostname(spec))) ChildFail(spec, kStageHostname, -1, err);
  if (spec.loopback_up && (err = ChildLoopbackUp())) ChildFail(spec, kStageLoopback, -1, err);
  if ((err = ChildApplyMounts(spec, &op))) ChildFail(spec, kStageMount, op, err);
  if (spec.cwd != nullptr && (err = SysErr(Sys(SYS_chdir, spec.cwd)))) ChildFail(spec, kStageChdir, -1, err);
  // The link comes up while the steps above run. The rules only once it is up: a rule that makes
  // the gateway's range unreachable would make the kernel refuse the link's default route. Both
  // before the rlimits (a low RLIMIT_NOFILE leaves no fd for the netlink socket) and the
  // capability drop (rules need CAP_NET_ADMIN).
  if ((err = ChildWaitForNetwork(spec))) ChildFail(spec, kStageNetwork, -1, err);
  if ((err = ChildAddNetRules(spec, &op))) ChildFail(spec, kStageNetwork, op, err);
  // Before the rlimits: with RLIMIT_NOFILE as low as 32 there may be no free fd number left for
  // the stdio duplicates in a child that inherited a busy parent's descriptors.
  if ((err = ChildSetupStdio(spec, &op))) ChildFail(spec, kStageStdio, op, err);
  if ((err = ChildCloseInheritedFds(spec))) ChildFail(spec, kStageFds, -1, err);
  if ((err = ChildSetRlimits(spec, &op))) ChildFail(spec, kStageRlimit, op, err);
  if (spec.personality != 0 && (err = SysErr(Sys(SYS_personality, spec.personality))))
    ChildFail(spec, kStagePersonality, -1, err);
  if (spec.disable_tsc && (err = SysErr(Sys(SYS_prctl, PR_SET_TSC, PR_TSC_SIGSEGV))))
    ChildFail(spec, kStageTsc, -1, err);
  if (spec.set_nice && (err = SysErr(Sys(SYS_setpriority, PRIO_PROCESS, 0, spec.nice))))
    ChildFail(spec, kStageNice, -1, err);
  if (spec.set_affinity && (err = SysErr(Sys(SYS_sched_setaffinity, 0, sizeof(spec.cpu_mask), spec.cpu_mask))))
    ChildFail(spec, kStageAffinity, -1, err);
  if (spec.core_scheduling &&
      (err = SysErr(Sys(SYS_prctl, PR_SCHED_CORE, PR_SCHED_CORE_CREATE, 0, 1 /* PIDTYPE_TGID */, 0))))
    ChildFail(spec, kStageCoreSched, -1, err);
  if ((err = ChildDropCaps(spec, &op))) ChildFail(spec, kStageCaps, op, err);
  // A seccomp filter needs no_new_privs once the caps are gone, so a filter forces it.
  if ((spec.no_new_privs || spec.filter != nullptr || spec.listener_filter != nullptr) && (err = SysErr(Sys(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1))))
    ChildFail(spec, kStageNoNewPrivs, -1, err);
  if ((err = ChildResetSignals())) ChildFail(spec, kStageSignals, -1, err);

  // Last: from here on every syscall, execve included, goes through the filters. The listener
  // filter first: the handshake must not pass the policy (op 0), which comes last (op 1).
  if (spec.listener_filter != nullptr && (err = ChildInstallListener(spec))) ChildFail(spec, kStageSeccomp, 0, err);
  if (spec.filter != nullptr && (err = ChildInstallSeccomp(spec))) ChildFail(spec, kStageSeccomp, 1, err);
  ChildExec(spec);
}

}  // namespace jail
