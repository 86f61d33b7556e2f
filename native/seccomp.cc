// Seccomp filter installation.
//
// Runs in: the cloned child, as the very last step before execve, after no_new_privs, so the
// filter also sees the execve (as nsjail). Constraints: raw syscalls only (see child.cc). The
// sock_filter array was laid out by the addon before clone.
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "child.h"
#include <sys/prctl.h>

#include "sys.h"

namespace jail {

// The listener handshake (unotify.cc says why it is shaped so): install the listener filter, tell
// the parent the listener's fd number on the report pipe, wait for its byte on the go pipe, which
// comes once it holds its own copy of the listener. Both calls match the filter's prologue
// exactly. The listener is close-on-exec (the kernel makes it so): the program never has it.
int ChildInstallListener(const ChildSpec& spec) {
  // The parent takes the listener with pidfd_getfd, a ptrace-mode access: after an id change the
  // kernel made this process undumpable, and a supervisor without CAP_SYS_PTRACE (root in a
  // container) would be refused. Dumpable gives nothing away that execve does not: the program
  // it execs is dumpable anyway (its uid and euid are equal). Before the filter, which might
  // notify prctl before anyone can answer.
  int err = SysErr(Sys(SYS_prctl, PR_SET_DUMPABLE, 1));
  if (err) return err;
  struct sock_fprog prog;
  prog.len = spec.listener_filter_len;
  prog.filter = (struct sock_filter*)spec.listener_filter;
  long fd = Sys(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (fd < 0) return SysErr(fd);
  FailureRecord rec = {kStageNone, (int32_t)fd, 0};
  long n;
  while ((n = Sys(SYS_write, spec.report_fd, &rec, sizeof(rec))) == -EINTR) {
  }
  if (n != (long)sizeof(rec)) return n < 0 ? SysErr(n) : EPIPE;
  char byte = 0;
  while ((n = Sys(SYS_read, spec.go_fd, &byte, 1)) == -EINTR) {
  }
  // EOF: the parent died or refused the listener (and is killing us).
  if (n != 1) SysExit(255);
  return 0;
}

int ChildInstallSeccomp(const ChildSpec& spec) {
  struct sock_fprog prog;
  prog.len = spec.filter_len;
  prog.filter = (struct sock_filter*)spec.filter;
  return SysErr(Sys(SYS_seccomp, SECCOMP_SET_MODE_FILTER, spec.seccomp_flags, &prog));
}

}  // namespace jail
