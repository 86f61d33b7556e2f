// Capability drop, with nsjail's semantics: keep only the listed caps (or all with keep_all_caps).
//
// Runs in: the cloned child, after mounts/hostname (which need CAP_SYS_ADMIN in the jail's user
// namespace) and before no_new_privs and seccomp. Constraints: raw syscalls only (see child.cc).
//
// Security argument: the inheritable and ambient sets end up holding exactly the kept caps and
// the bounding set loses every other cap, so after execve a non-root jail uid has only the kept
// caps (ambient) and a root jail uid at most the kept caps (bounding). Permitted/effective are
// left for execve to recompute.
#include <linux/capability.h>
#include <sys/prctl.h>

#include "child.h"
#include "sys.h"

namespace jail {

namespace {

bool Has(uint64_t set, int cap) { return cap < 64 && (set >> cap) & 1; }

}  // namespace

int ChildDropCaps(const ChildSpec& spec, int* op_index) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  int err;
  if ((err = SysErr(Sys(SYS_capget, &hdr, data)))) return err;
  uint64_t permitted = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);

  uint64_t keep = spec.keep_all_caps ? permitted & ~spec.drop_caps : spec.keep_caps;
  if ((keep & ~permitted) != 0) {
    for (int cap = 0; cap < 64; cap++) {
      if (Has(keep, cap) && !Has(permitted, cap)) *op_index = cap;
    }
    return EPERM;
  }
  if ((err = SysErr(Sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)))) return err;
  data[0].inheritable = (uint32_t)keep;
  data[1].inheritable = (uint32_t)(keep >> 32);
  if ((err = SysErr(Sys(SYS_capset, &hdr, data)))) return err;

  if (!spec.keep_all_caps || spec.drop_caps != 0) {
    // Walk up to the kernel's last cap: PR_CAPBSET_READ fails with EINVAL past it.
    for (int cap = 0; cap < 64; cap++) {
      long present = Sys(SYS_prctl, PR_CAPBSET_READ, cap);
      if (present == -EINVAL) break;
      if ((err = SysErr(present))) return err;
      if (Has(keep, cap)) continue;
      if ((err = SysErr(Sys(SYS_prctl, PR_CAPBSET_DROP, cap)))) {
        *op_index = cap;
        return err;
      }
    }
  }
  for (int cap = 0; cap < 64; cap++) {
    if (!Has(keep, cap)) continue;
    if ((err = SysErr(Sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)))) {
      *op_index = cap;
      return err;
    }
  }
  return 0;
}

}  // namespace jail
