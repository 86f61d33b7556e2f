// Parent-side user namespace setup (userns.cc).
#pragma once

#include <sys/types.h>

#include "prepared.h"

namespace jail {

// Writes setgroups, gid_map and uid_map of the child (directly or through newgidmap/newuidmap).
// Returns 0 or an errno; *op_index is 0 setgroups, 1 gid_map, 2 uid_map, 3 newgidmap, 4 newuidmap.
int WriteIdMaps(const PreparedJail& j, pid_t pid, int* op_index);

}  // namespace jail
