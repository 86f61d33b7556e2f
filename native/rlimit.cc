// Resource limits.
//
// Runs in: the cloned child, after pivot_root and chdir, before caps are dropped (raising a hard
// limit needs CAP_SYS_RESOURCE). Constraints: raw syscalls only (see child.cc).
#include <sys/resource.h>

#include "child.h"
#include "sys.h"

namespace jail {

int ChildSetRlimits(const ChildSpec& spec, int* op_index) {
  for (size_t i = 0; i < spec.rlimits_len; i++) {
    const RlimitSpec& rl = spec.rlimits[i];
    struct rlimit64 lim = {rl.cur, rl.max};
    int err = SysErr(Sys(SYS_prlimit64, 0, rl.resource, &lim, nullptr));
    if (err) {
      *op_index = (int)i;
      return err;
    }
  }
  return 0;
}

}  // namespace jail
