// The listener filter's handshake prologue (the design is in unotify.cc).
//
// Runs in: the launching thread, after the launch's pipes exist and before clone.
#include "listener_filter.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>

namespace jail {

namespace {

#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#endif

// Little-endian halves of seccomp_data.args[i].
constexpr uint32_t ArgLow(int i) { return offsetof(struct seccomp_data, args) + 8 * i; }
constexpr uint32_t ArgHigh(int i) { return ArgLow(i) + 4; }

constexpr size_t kBlockLen = 11;
static_assert(2 + 2 * kBlockLen == kListenerPrologueLen, "the arch check and two AppendExactAllow blocks");

// ALLOW for syscall `nr` with args[0] == fd and args[2] == len; otherwise on to the next block.
void AppendExactAllow(std::vector<struct sock_filter>* out, uint32_t nr, uint32_t fd, uint32_t len) {
  const struct sock_filter block[kBlockLen] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 9),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgLow(0)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, fd, 0, 7),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgHigh(0)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgLow(2)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, len, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgHigh(2)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  out->insert(out->end(), block, block + kBlockLen);
}

}  // namespace

void BuildListenerFilter(PreparedJail& j) {
  j.listener_filter.clear();
  if (j.listener_body.empty()) return;
  j.listener_filter.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  j.listener_filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 0, kListenerPrologueLen - 2));
  AppendExactAllow(&j.listener_filter, SYS_write, (uint32_t)j.spec.report_fd, sizeof(FailureRecord));
  AppendExactAllow(&j.listener_filter, SYS_read, (uint32_t)j.spec.go_fd, 1);
  j.listener_filter.insert(j.listener_filter.end(), j.listener_body.begin(), j.listener_body.end());
  j.spec.listener_filter = j.listener_filter.data();
  j.spec.listener_filter_len = (unsigned short)j.listener_filter.size();
}

}  // namespace jail
