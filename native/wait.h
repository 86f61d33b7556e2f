// Exit watching and signalling (wait.cc).
#pragma once

#include <napi.h>
#include <stdint.h>
#include <sys/types.h>

namespace jail {

// The wait status of an ended process that something else has already reaped, from its pidfd
// (PIDFD_GET_INFO, Linux >= 6.15). False when the kernel cannot say.
bool ExitStatusOfReaped(int pidfd, int* wstatus);

Napi::Value WatchExit(const Napi::CallbackInfo& info);
Napi::Value Kill(const Napi::CallbackInfo& info);
Napi::Value KillGroup(const Napi::CallbackInfo& info);

// Reads and range-checks the (pid, signal) arguments of a kill-style export; on a bad argument
// throws a JavaScript error naming `name` and returns false.
bool ReadKillTarget(const Napi::CallbackInfo& info, const char* name, int64_t min_pid, pid_t* pid, int* sig);

}  // namespace jail
