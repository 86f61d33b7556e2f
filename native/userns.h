// Parent-side user namespace setup (userns.cc).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace jail {

// Writes /proc/PID/<name> (setgroups, gid_map, uid_map) in one write. Returns 0 or an errno.
int WriteProcFile(pid_t pid, const char* name, const std::string& text);

// Starts newuidmap/newgidmap (argv without the pid) for `pid`; *helper is its pid, to be reaped
// by the caller. Returns 0 or an errno.
int SpawnIdmapHelper(const std::vector<std::string>& argv, pid_t pid, pid_t* helper);

// The errno of a reaped helper's wait status: 0 when it exited 0, else EPERM.
int IdmapHelperResult(int wstatus);

}  // namespace jail
