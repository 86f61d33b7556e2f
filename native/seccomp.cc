// Seccomp filter installation.
//
// Runs in: the cloned child, as the very last step before execve, after no_new_privs, so the
// filter also sees the execve (as nsjail). Constraints: raw syscalls only (see child.cc). The
// sock_filter array was laid out by the addon before clone.
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "child.h"
#include "sys.h"

namespace jail {

int ChildInstallSeccomp(const ChildSpec& spec) {
  struct sock_fprog prog;
  prog.len = spec.filter_len;
  prog.filter = (struct sock_filter*)spec.filter;
  return SysErr(Sys(SYS_seccomp, SECCOMP_SET_MODE_FILTER, spec.seccomp_flags, &prog));
}

}  // namespace jail
