// The prepared form of a JailPlan: plain structs of raw pointers and counts.
//
// Built by prepare.cc on the main thread before clone, from a JailPlan the addon has validated.
// After clone the child reads it (its copy-on-write view of the parent's memory) and never
// allocates: every string is already NUL-terminated, every array sized, every fd open. The
// storage is owned by a `PreparedJail` (prepare.h) that outlives the launch.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace jail {

// Which step failed, reported as {stage, opIndex, errno}. The numbers are only used between the
// child and the addon; JavaScript sees the names from StageName().
enum Stage : int32_t {
  kStageNone = 0,
  kStageClone,
  kStageIdmap,
  kStageCgroup,
  kStageHandshake,
  kStageOomScoreAdj,
  kStageSetsid,
  kStageSetid,
  kStageKeyring,
  kStageHostname,
  kStageLoopback,
  kStageNetwork,
  kStageMount,
  kStageChdir,
  kStageRlimit,
  kStagePersonality,
  kStageTsc,
  kStageNice,
  kStageAffinity,
  kStageCoreSched,
  kStageCaps,
  kStageNoNewPrivs,
  kStageStdio,
  kStageFds,
  kStageSignals,
  kStageSeccomp,
  kStageExecve,
  kStageCount
};

const char* StageName(int32_t stage);

// What the child writes to the report pipe when a step fails. Fixed size, so one write() is
// atomic (< PIPE_BUF) and the parent reads it whole.
// Also the listener handshake's message: stage kStageNone, op_index the listener's fd number.
struct FailureRecord {
  int32_t stage;
  int32_t op_index;
  int32_t err;
};

enum MountOpKind : int32_t {
  kOpMount,
  kOpMkdirs,
  kOpMkfile,
  kOpSymlink,
  kOpWrite,
  kOpRemount,
  kOpSetattr,
  kOpUmount,
  kOpUnlink,
  kOpPivot,
  kOpMoveRoot,
  kOpChroot,
};

struct MountOpSpec {
  MountOpKind kind;
  bool optional;
  const char* source;  // mount source, symlink target; may be null
  const char* target;  // the path the op acts on
  const char* fstype;  // may be null
  const char* data;    // mount data; for kOpWrite the content bytes
  size_t data_len;     // kOpWrite: content length
  unsigned long flags; // MS_* for mount/remount, umount2 flags
  uint64_t attr_set;   // kOpSetattr
  uint64_t attr_clr;
  bool recursive;
  uint32_t mode;       // mkdir/mkfile/write mode
};

struct RlimitSpec {
  int resource;
  uint64_t cur;
  uint64_t max;
};

struct ChildSpec {
  uint64_t clone_flags;
  int death_signal;
  pid_t parent_pid;  // the launching process (set at launch), to notice a reparenting

  // ids
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t groups_len;
  bool set_groups;  // false when /proc/PID/setgroups is "deny"

  const char* hostname;  // null = leave alone
  bool loopback_up;
  // rtnetlink RTM_NEWRULE messages, back to back (each NLMSG_ALIGNed); applied once the link is up.
  const char* net_rules;
  size_t net_rules_len;
  bool set_affinity;
  unsigned long cpu_mask[1024 / (8 * sizeof(unsigned long))];  // cpu_set_t layout, 1024 CPUs
  bool core_scheduling;

  const char* root;  // where the jail's root is assembled; null without a mount namespace
  const MountOpSpec* mounts;
  size_t mounts_len;
  const char* cwd;  // null = stay

  const RlimitSpec* rlimits;
  size_t rlimits_len;

  bool keep_all_caps;
  uint64_t keep_caps;  // bit per capability number
  uint64_t drop_caps;  // with keep_all_caps: these go anyway (bit per capability number)
  bool no_new_privs;
  unsigned long personality;  // 0 = leave alone
  bool disable_tsc;
  bool set_nice;
  int nice;
  bool set_oom_score_adj;
  const char* oom_score_adj;  // decimal text
  size_t oom_score_adj_len;
  bool setsid;

  // fds, all open in the parent before clone
  int stdio[3];         // sources for 0,1,2
  const int* keep_fds;  // --pass_fd: stay open across exec at the same number
  size_t keep_fds_len;
  int go_fd;      // read end: one byte from the parent means "maps and cgroups are written"
  int go_write_fd;  // the parent's write end, which the child closes at once (see ChildWaitForGo)
  int report_fd;  // write end, CLOEXEC: a FailureRecord, or EOF when execve succeeded
  int exec_fd;    // O_PATH fd for execveat, or -1
  int net_gate_fd;        // read end: one byte when the network link is up; -1 = no link to wait for
  int net_gate_write_fd;  // the supervisor's end, closed by the child at once (ChildWaitForNetwork)

  // seccomp (struct sock_filter[], the layout the kernel reads)
  const void* filter;  // the policy, installed last; null = none
  unsigned short filter_len;
  unsigned int seccomp_flags;
  // The user-notification filter (null = none): installed with a listener before `filter`, whose
  // fd the parent takes over in a handshake (unotify.h), so its first instructions let exactly
  // that handshake's write and read through.
  const void* listener_filter;
  unsigned short listener_filter_len;

  const char* exec_path;
  char* const* argv;
  char* const* envp;
};

}  // namespace jail
