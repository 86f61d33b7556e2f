// Reading the kernel's seccomp audit records (audit.cc).
#pragma once

#include <napi.h>

namespace jail {

Napi::Value AuditOpen(const Napi::CallbackInfo& info);
Napi::Value AuditRead(const Napi::CallbackInfo& info);

}  // namespace jail
