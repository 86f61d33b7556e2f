// Exit watching and signalling (wait.cc).
#pragma once

#include <napi.h>
#include <stdint.h>
#include <sys/types.h>

namespace jail {

Napi::Value WatchExit(const Napi::CallbackInfo& info);
Napi::Value Kill(const Napi::CallbackInfo& info);
Napi::Value KillGroup(const Napi::CallbackInfo& info);

// Reads and range-checks the (pid, signal) arguments of a kill-style export; on a bad argument
// throws a JavaScript error naming `name` and returns false.
bool ReadKillTarget(const Napi::CallbackInfo& info, const char* name, int64_t min_pid, pid_t* pid, int* sig);

}  // namespace jail
