// The warm server's request receiver (warm.cc).
#pragma once

#include <napi.h>

namespace jail {

Napi::Value WarmReceive(const Napi::CallbackInfo& info);

}  // namespace jail
