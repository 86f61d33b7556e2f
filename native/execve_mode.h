// `jail -Me` support in the addon (execve_mode.cc).
#pragma once

#include <napi.h>

namespace jail {

Napi::Value ExecveMode(const Napi::CallbackInfo& info);
Napi::Value LauncherPlan(const Napi::CallbackInfo& info);
Napi::Value StageNames(const Napi::CallbackInfo& info);

}  // namespace jail
