// Exit watching and signalling (wait.cc).
#pragma once

#include <napi.h>

namespace jail {

Napi::Value WatchExit(const Napi::CallbackInfo& info);
Napi::Value Kill(const Napi::CallbackInfo& info);
Napi::Value KillGroup(const Napi::CallbackInfo& info);

}  // namespace jail
