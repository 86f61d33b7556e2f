// cgroup filesystem operations (cgroup.cc).
#pragma once

#include <napi.h>

namespace jail {

Napi::Value CgroupMkdir(const Napi::CallbackInfo& info);
Napi::Value CgroupRmdir(const Napi::CallbackInfo& info);
Napi::Value CgroupWrite(const Napi::CallbackInfo& info);
Napi::Value CgroupRead(const Napi::CallbackInfo& info);
Napi::Value PidfdOpen(const Napi::CallbackInfo& info);
Napi::Value FsType(const Napi::CallbackInfo& info);

}  // namespace jail
