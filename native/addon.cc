// The N-API surface of the addon: argument checking and conversion only. Each export says who
// owns what it returns. Typed for TypeScript in src/native/types.ts.
//
// Runs in: the Node main thread.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "box.h"
#include "cgroup.h"
#include "execve_mode.h"
#include "launch_session.h"
#include "prepare.h"
#include "unotify.h"
#include "wait.h"
#include "warm.h"

namespace jail {

Napi::Value ThrowErrno(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value OpenNetnsSocketsJs(const Napi::CallbackInfo& info);
Napi::Value OriginalDestinationJs(const Napi::CallbackInfo& info);
Napi::Value ConntrackOriginalDestinationJs(const Napi::CallbackInfo& info);
Napi::Value SpawnInNetnsJs(const Napi::CallbackInfo& info);

namespace {

// Bumped whenever an export changes shape; src/native/addon.ts refuses a mismatched build.
constexpr int kAbiVersion = 10;

// PrepareJail on (plan, resources) arguments; null with a TypeError thrown when they are not two
// objects or the plan is refused.
std::unique_ptr<PreparedJail> PrepareArgs(const Napi::CallbackInfo& info, const char* name) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsObject() || !info[1].IsObject()) {
    Napi::TypeError::New(env, std::string(name) + "(plan: object, resources: object)").ThrowAsJavaScriptException();
    return nullptr;
  }
  return PrepareJail(env, info[0].As<Napi::Object>(), info[1].As<Napi::Object>());
}


// validatePlan(plan, resources): every check launch makes before clone, and nothing else: the
// prepared jail is discarded at once (its /dev/null fd closed). Throws launch's TypeError.
Napi::Value ValidatePlanJs(const Napi::CallbackInfo& info) {
  PrepareArgs(info, "validatePlan");
  return info.Env().Undefined();
}

// pipe(): [readFd, writeFd], both O_CLOEXEC, owned by the caller.
Napi::Value PipeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return ThrowErrno(env, "pipe2", errno);
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, fds[0]);
  a.Set(1u, fds[1]);
  return a;
}

// close(fd): returns 0 or an errno.
Napi::Value CloseJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "close(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, close(info[0].As<Napi::Number>().Int32Value()) < 0 ? errno : 0);
}

// openPath(path, directory): an O_PATH|O_CLOEXEC fd (for execveat, or an O_DIRECTORY fd for
// CLONE_INTO_CGROUP), owned by the caller. Throws with `errno` set on failure.
Napi::Value OpenPathJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsBoolean()) {
    Napi::TypeError::New(env, "openPath(path: string, directory: boolean)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  bool dir = info[1].As<Napi::Boolean>().Value();
  int fd = open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_PATH) | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "open " + path, errno);
  return Napi::Number::New(env, fd);
}

Napi::Object Exports(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("planVersion", Napi::Number::New(env, kPlanVersion));
  exports.Set("launch", Napi::Function::New(env, LaunchJs, "launch"));
  exports.Set("validatePlan", Napi::Function::New(env, ValidatePlanJs, "validatePlan"));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit, "watchExit"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("killGroup", Napi::Function::New(env, KillGroup, "killGroup"));
  exports.Set("pipe", Napi::Function::New(env, PipeJs, "pipe"));
  exports.Set("close", Napi::Function::New(env, CloseJs, "close"));
  exports.Set("openPath", Napi::Function::New(env, OpenPathJs, "openPath"));
  exports.Set("cgroupMkdir", Napi::Function::New(env, CgroupMkdir, "cgroupMkdir"));
  exports.Set("cgroupRmdir", Napi::Function::New(env, CgroupRmdir, "cgroupRmdir"));
  exports.Set("cgroupWrite", Napi::Function::New(env, CgroupWrite, "cgroupWrite"));
  exports.Set("cgroupRead", Napi::Function::New(env, CgroupRead, "cgroupRead"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("fsType", Napi::Function::New(env, FsType, "fsType"));
  exports.Set("execveMode", Napi::Function::New(env, ExecveMode, "execveMode"));
  exports.Set("launcherPlan", Napi::Function::New(env, LauncherPlan, "launcherPlan"));
  exports.Set("stageNames", Napi::Function::New(env, StageNames, "stageNames"));
  exports.Set("auditOpen", Napi::Function::New(env, AuditOpen, "auditOpen"));
  exports.Set("auditRead", Napi::Function::New(env, AuditRead, "auditRead"));
  exports.Set("watchNotifications", Napi::Function::New(env, WatchNotifications, "watchNotifications"));
  exports.Set("warmReceive", Napi::Function::New(env, WarmReceive, "warmReceive"));
  exports.Set("boxListen", Napi::Function::New(env, BoxListen, "boxListen"));
  exports.Set("boxConnect", Napi::Function::New(env, BoxConnect, "boxConnect"));
  exports.Set("openInRoot", Napi::Function::New(env, OpenInRoot, "openInRoot"));
  exports.Set("openPty", Napi::Function::New(env, OpenPty, "openPty"));
  exports.Set("setWindowSize", Napi::Function::New(env, SetWindowSize, "setWindowSize"));
  exports.Set("readXattr", Napi::Function::New(env, ReadXattr, "readXattr"));

  exports.Set("openNetnsSockets", Napi::Function::New(env, OpenNetnsSocketsJs, "openNetnsSockets"));
  exports.Set("originalDestination", Napi::Function::New(env, OriginalDestinationJs, "originalDestination"));
  exports.Set("conntrackOriginalDestination", Napi::Function::New(env, ConntrackOriginalDestinationJs, "conntrackOriginalDestination"));
  exports.Set("spawnInNetns", Napi::Function::New(env, SpawnInNetnsJs, "spawnInNetns"));
  exports.Set("unwatchNotifications", Napi::Function::New(env, UnwatchNotifications, "unwatchNotifications"));
  return exports;
}

}  // namespace

}  // namespace jail

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return jail::Exports(env, exports); }

NODE_API_MODULE(jail_native, Init)
