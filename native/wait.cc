// Waiting for a jail to end, and signalling it.
//
// Runs in: the Node main thread. The jail's pidfd is watched by the event loop (uv_poll: a pidfd
// becomes readable when the process exits), so no thread is parked per jail. Only that one pid is
// ever waited for: never waitpid(-1), which would steal child_process's children.
#include "wait.h"

#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <string>

namespace jail {

namespace {

// PIDFD_GET_INFO (Linux >= 6.15; linux/pidfd.h of older headers lacks it).
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
static_assert(sizeof(PidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");
constexpr uint64_t kPidfdInfoExit = 1ULL << 3;
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);

struct ExitWatch {
  uv_poll_t poll;
  napi_env env;
  Napi::FunctionReference callback;
  Napi::AsyncContext* context;
  int pidfd;
  pid_t pid;
};

Napi::Object ExitInfoObject(Napi::Env env, const siginfo_t& si, int status, const struct rusage& ru, bool reaped_elsewhere) {
  Napi::Object o = Napi::Object::New(env);
  bool signaled = WIFSIGNALED(status);
  o.Set("reapedElsewhere", reaped_elsewhere);
  o.Set("kind", signaled ? "signaled" : "exited");
  o.Set("code", signaled ? 0 : WEXITSTATUS(status));
  o.Set("signal", signaled ? WTERMSIG(status) : 0);
  o.Set("coreDumped", signaled && WCOREDUMP(status));
  Napi::Object r = Napi::Object::New(env);
  r.Set("userTimeUs", (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec);
  r.Set("systemTimeUs", (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec);
  r.Set("maxRssKb", (double)ru.ru_maxrss);
  o.Set("rusage", r);
  o.Set("siginfoCode", si.si_code);
  return o;
}

void OnClosed(uv_handle_t* handle) {
  ExitWatch* w = static_cast<ExitWatch*>(handle->data);
  delete w->context;
  delete w;
}

void OnReadable(uv_poll_t* handle, int status, int events) {
  (void)status;
  (void)events;
  ExitWatch* w = static_cast<ExitWatch*>(handle->data);
  // Peek first: a spurious wake-up must not reap anything.
  siginfo_t si = {};
  int wstatus = 0;
  struct rusage ru = {};
  bool elsewhere = false;
  if (syscall(SYS_waitid, P_PIDFD, w->pidfd, &si, WEXITED | WNOHANG | WNOWAIT, nullptr) < 0) {
    // ECHILD with a readable pidfd: the process has ended and something else reaped it (the host
    // program ignores SIGCHLD, or called waitpid(-1)). Polling again would spin forever.
    if (errno != ECHILD) return;
    elsewhere = true;
    if (!ExitStatusOfReaped(w->pidfd, &wstatus)) wstatus = -1;
  } else {
    if (si.si_pid == 0) return;
    pid_t got;
    do {
      got = wait4(w->pid, &wstatus, WNOHANG | __WALL, &ru);
    } while (got < 0 && errno == EINTR);
    if (got != w->pid) return;
  }
  uv_poll_stop(handle);

  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  Napi::Object info = ExitInfoObject(env, si, wstatus, ru, elsewhere);
  if (wstatus == -1) info.Set("kind", "unknown");
  // MakeCallback (not Call) so promise jobs queued by the callback run right after it.
  w->callback.MakeCallback(env.Global(), {info}, *w->context);
  w->callback.Reset();
  uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClosed);
}

}  // namespace

bool ExitStatusOfReaped(int pidfd, int* wstatus) {
  PidfdInfo info = {};
  info.mask = kPidfdInfoExit;
  if (ioctl(pidfd, kPidfdGetInfo, &info) < 0 || (info.mask & kPidfdInfoExit) == 0) return false;
  *wstatus = info.exit_code;
  return true;
}

// watchExit(pidfd, pid, callback): calls callback(ExitInfo) once, when the process has exited and
// been reaped. The pidfd stays owned by the caller and must stay open until then.
Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "watchExit(pidfd: number, pid: number, callback: function)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "watchExit: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ExitWatch* w = new ExitWatch();
  w->env = env;
  w->pidfd = info[0].As<Napi::Number>().Int32Value();
  w->pid = info[1].As<Napi::Number>().Int32Value();
  w->callback = Napi::Persistent(info[2].As<Napi::Function>());
  w->context = new Napi::AsyncContext(env, "jail.exit");
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, w->pidfd);
  if (rc == 0) rc = uv_poll_start(&w->poll, UV_READABLE, OnReadable);
  if (rc != 0) {
    Napi::Error::New(env, std::string("watchExit: ") + uv_strerror(rc)).ThrowAsJavaScriptException();
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(&w->poll)) || rc != UV_EBADF) {
      uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
    } else {
      delete w->context;
      delete w;
    }
  }
  return env.Undefined();
}

// kill(pidfd, signal): pidfd_send_signal; returns 0 or an errno (ESRCH once it has exited).
Napi::Value Kill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "kill(pidfd: number, signal: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int pidfd = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  long rc = syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
  return Napi::Number::New(env, rc < 0 ? errno : 0);
}

bool ReadKillTarget(const Napi::CallbackInfo& info, const char* name, int64_t min_pid, pid_t* pid, int* sig) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, std::string(name) + "(pid: number, signal: number)").ThrowAsJavaScriptException();
    return false;
  }
  int64_t p = info[0].As<Napi::Number>().Int64Value();
  int64_t s = info[1].As<Napi::Number>().Int64Value();
  if (p < min_pid || p > 0x3fffffff || s < 0 || s > 64) {
    Napi::RangeError::New(env, std::string(name) + ": pid must be >= " + std::to_string(min_pid) + " and signal 0..64")
        .ThrowAsJavaScriptException();
    return false;
  }
  *pid = (pid_t)p;
  *sig = (int)s;
  return true;
}

// killGroup(pgid, signal): kill(-pgid); the jail's init leads its own process group (setsid), so
// this reaches its processes when there is no PID namespace. Returns 0 or an errno. A pgid of 1
// or less would mean init's group or every process, so it is refused.
Napi::Value KillGroup(const Napi::CallbackInfo& info) {
  pid_t pgid;
  int sig;
  if (!ReadKillTarget(info, "killGroup", 2, &pgid, &sig)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), kill(-pgid, sig) < 0 ? errno : 0);
}

}  // namespace jail
