// The supervisor's side of a seccomp listener (unotify.cc): answering notifications.
#pragma once

#include <napi.h>

namespace jail {

Napi::Value WatchNotifications(const Napi::CallbackInfo& info);
Napi::Value UnwatchNotifications(const Napi::CallbackInfo& info);

}  // namespace jail
