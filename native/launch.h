// Launching one jail (launch.cc).
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

// Clones the child, writes id maps and cgroup files, releases it and waits until it has exec'd
// or failed. Blocking: call from a worker thread. A failed child is killed and reaped here.
LaunchOutcome Launch(PreparedJail& j);

}  // namespace jail
