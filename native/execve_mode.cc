// The jail-exec launcher's plan: handed over in place of this process (`jail -Me`: on success
// execveMode never returns, execve replaces Node), or as bytes for a launcher process of its own
// (boxes).
//
// Runs in: the Node main thread.
#include "execve_mode.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blob.h"
#include "prepare.h"

#include <vector>

extern char** environ;

namespace jail {

namespace {

// The jail of (plan, resources) prepared and serialized for the launcher with its failure texts
// and time limit (arguments texts_at, texts_at + 1); null with a JavaScript exception pending when
// the plan is refused or needs a supervisor the launcher cannot be.
std::unique_ptr<PreparedJail> PrepareForLauncher(const Napi::CallbackInfo& info, const char* name, size_t texts_at, std::string* blob) {
  Napi::Env env = info.Env();
  std::unique_ptr<PreparedJail> j = PrepareJail(env, info[0].As<Napi::Object>(), info[1].As<Napi::Object>());
  if (!j) return nullptr;
  // Nobody would answer the listener, or keep the network link up, once the launcher runs alone
  // (the planner refuses both first).
  if (!j->listener_body.empty() || j->net_gate) {
    Napi::TypeError::New(env, std::string(name) + ": a seccomp listener or a network link needs a supervisor; the launcher is none").ThrowAsJavaScriptException();
    return nullptr;
  }
  ExecveExtras extras;
  extras.time_limit = info[texts_at + 1].As<Napi::Number>().Uint32Value();
  Napi::Array texts = info[texts_at].As<Napi::Array>();
  for (uint32_t i = 0; i < texts.Length(); i++) extras.failure_texts.push_back(texts.Get(i).ToString().Utf8Value());
  *blob = SerializeJail(*j, extras);
  return j;
}

}  // namespace

// execveMode(plan, resources, launcherPath, failureTexts, timeLimit): never returns on success;
// throws (with .errno) when the plan cannot be handed over.
Napi::Value ExecveMode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 5 || !info[0].IsObject() || !info[1].IsObject() || !info[2].IsString() || !info[3].IsArray() ||
      !info[4].IsNumber()) {
    Napi::TypeError::New(env, "execveMode(plan, resources, launcherPath: string, failureTexts: string[], timeLimit: number)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string blob;
  std::unique_ptr<PreparedJail> j = PrepareForLauncher(info, "execveMode", 3, &blob);
  if (!j) return env.Undefined();
  std::string launcher = info[2].As<Napi::String>().Utf8Value();

  auto fail = [&](const char* what) {
    Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(errno));
    e.Set("errno", Napi::Number::New(env, errno));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  };
  // Not close-on-exec: the launcher reads the plan from it.
  int fd = memfd_create("jail-plan", 0);
  if (fd < 0) return fail("memfd_create");
  for (size_t done = 0; done < blob.size();) {
    ssize_t n = write(fd, blob.data() + done, blob.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write plan");
    done += (size_t)n;
  }
  if (lseek(fd, 0, SEEK_SET) < 0) return fail("lseek plan");
  // Every fd the jail inherits must survive the exec into the launcher; Node marks even its
  // stdio close-on-exec.
  std::vector<int> inherited(j->keep_fds);
  for (int fd : j->spec.stdio) {
    if (fd != j->devnull_fd) inherited.push_back(fd);
  }
  if (j->spec.exec_fd >= 0) inherited.push_back(j->spec.exec_fd);
  for (int fd : inherited) {
    if (fcntl(fd, F_SETFD, 0) < 0) return fail(("fcntl fd " + std::to_string(fd)).c_str());
  }
  std::string fd_text = std::to_string(fd);
  char* argv[] = {const_cast<char*>(launcher.c_str()), const_cast<char*>("--plan-fd"), const_cast<char*>(fd_text.c_str()), nullptr};
  execve(launcher.c_str(), argv, environ);
  int err = errno;
  close(fd);
  errno = err;
  return fail(("execve " + launcher).c_str());
}

// launcherPlan(plan, resources, failureTexts, timeLimit): the same plan as bytes, for a launcher
// started as a process of its own (boxes) that reads it from a pipe; every fd in resources must be
// open at the same number in that process.
Napi::Value LauncherPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsObject() || !info[1].IsObject() || !info[2].IsArray() || !info[3].IsNumber()) {
    Napi::TypeError::New(env, "launcherPlan(plan, resources, failureTexts: string[], timeLimit: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string blob;
  if (!PrepareForLauncher(info, "launcherPlan", 2, &blob)) return env.Undefined();
  return Napi::Buffer<char>::Copy(env, blob.data(), blob.size());
}

// stageNames(): the Stage enum's names in order, so TypeScript can index failure texts.
Napi::Value StageNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, kStageCount);
  for (int i = 0; i < kStageCount; i++) out.Set((uint32_t)i, StageName(i));
  return out;
}

}  // namespace jail
