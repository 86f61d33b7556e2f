// Launching one jail (launch.cc): clone, the parent's steps, the handshake.
#pragma once

#include <sys/types.h>

#include "prepared.h"

namespace jail {

struct LaunchOutcome {
  // On success stage is kStageNone and pid/pidfd are the running jail init's.
  Stage stage = kStageNone;
  int op_index = -1;
  int err = 0;
  pid_t pid = -1;
  int pidfd = -1;
};

// The child's stack for a CLONE_VM launch, with a guard page below it.
struct ChildStack {
  void* base = nullptr;
  size_t size = 0;
  ~ChildStack();
  bool Allocate();
};

// One launch in progress. Whoever drives it (Launch() below, or the addon's LaunchSession) keeps
// it, and the PreparedJail, until EOF on report_read: only then has the child stopped reading the
// spec and running on `stack` (EOF comes when execve closed the CLOEXEC write end, or when the
// child exited, and both happen after the child left this process's memory).
struct LaunchState {
  int go_write = -1;     // held open until the launch is over: the child's proof that we live
  int report_read = -1;  // O_NONBLOCK
  pid_t pid = -1;
  int pidfd = -1;  // not closed here: handed to the caller on success
  ChildStack stack;
  LaunchState() = default;
  LaunchState(const LaunchState&) = delete;
  LaunchState& operator=(const LaunchState&) = delete;
  ~LaunchState();
};

// The parent's steps between clone and the go byte, in the order the kernel requires.
enum ParentStep : int { kStepSetgroups, kStepGidMap, kStepNewgidmap, kStepUidMap, kStepNewuidmap, kStepCgroup, kStepGo, kStepCount };

// Pipes and clone. Returns 0, or an errno with *stage/*op_index set (clone; or fds when a
// descriptor the child needs was closed and its number reused by our pipes, see CheckChildFds);
// on success st->pid/pidfd are set.
int LaunchClone(PreparedJail& j, LaunchState* st, Stage* stage, int* op_index);

// Runs one parent step. Returns 0 or an errno with *stage/*op_index set. A helper step
// (newgidmap/newuidmap) only starts the helper and sets *helper to its pid; the caller reaps it
// and checks IdmapHelperResult. Steps the plan does not need do nothing (*helper stays -1).
int RunParentStep(PreparedJail& j, LaunchState& st, int step, pid_t* helper, Stage* stage, int* op_index);

// One non-blocking read of the child's report pipe: 1 with *rec filled when the child reported a
// failure, 2 with rec->op_index the child's listener fd (the listener handshake), 0 at EOF (execve succeeded, or the child died without a word), -EAGAIN when there is
// nothing yet, or another negative errno (-EPROTO for a torn record).
int ReadReport(int fd, FailureRecord* rec);

// The whole launch, blocking (for the single-threaded -Me launcher). A failed child is killed and
// reaped here.
LaunchOutcome Launch(PreparedJail& j);

}  // namespace jail
