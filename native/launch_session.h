// Launching a jail from the Node event loop (launch_session.cc).
#pragma once

#include <napi.h>

namespace jail {

// launch(plan, resources, onSetup) (see launch_session.cc).
Napi::Value LaunchJs(const Napi::CallbackInfo& info);

}  // namespace jail
