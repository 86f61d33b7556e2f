// Turning a JavaScript JailPlan into a PreparedJail, before clone.
//
// Runs in: the Node main thread, inside an addon call.
#pragma once

#include <napi.h>

#include <memory>

#include "prepared.h"

namespace jail {

// Reads and validates `plan` and the launch resources. On a structural error, throws a
// JavaScript TypeError naming the field and returns null.
std::unique_ptr<PreparedJail> PrepareJail(Napi::Env env, Napi::Object plan, Napi::Object resources);

// A stdio source or pass fd can still be closed between this call and the clone (by another
// thread of the process, e.g. libuv's pool closing a file): the launcher re-checks them with
// CheckChildFds (prepared.h) right after opening its own pipes.

}  // namespace jail
