// The host side of boxes (box.cc): the control socket, the client's request with its fds, file
// access inside a box's root, and the pseudo-terminal of an interactive exec.
#pragma once

#include <napi.h>

#include <string>

namespace jail {

// Throws an Error "what: strerror(err)" with .errno = err (addon.cc).
Napi::Value ThrowErrno(Napi::Env env, const std::string& what, int err);

Napi::Value BoxListen(const Napi::CallbackInfo& info);
Napi::Value BoxConnect(const Napi::CallbackInfo& info);
Napi::Value OpenInRoot(const Napi::CallbackInfo& info);
Napi::Value OpenPty(const Napi::CallbackInfo& info);
Napi::Value SetWindowSize(const Napi::CallbackInfo& info);
Napi::Value ReadXattr(const Napi::CallbackInfo& info);

}  // namespace jail
