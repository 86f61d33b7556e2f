// Launching a jail without ever blocking a thread: the addon's `launch` export.
//
// Runs in: the Node main thread only (the export and libuv callbacks). Clone and the parent's
// short steps (launch.cc) run synchronously in the export; what can take long is watched by the
// event loop: a newuidmap/newgidmap helper through its pidfd, the child's setup through its
// report pipe. So a setup that hangs (a bind source on a dead FUSE or NFS mount, a stuck helper)
// holds no thread, and the supervisor's deadline, armed when launch() returns, can kill it.
//
// Lifetime: a session owns the PreparedJail and the LaunchState (pipes, the CLONE_VM child's
// stack) until EOF on the report pipe, when the child no longer runs in this process's memory,
// and until its helper is reaped. It keeps its own duplicate of the pidfd, because the caller may
// close the pidfd it was given as soon as the jail has been reaped.
#include "launch_session.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>

#include "launch.h"
#include "prepare.h"
#include "userns.h"
#include "wait.h"

namespace jail {

namespace {

class LaunchSession {
 public:
  LaunchSession(Napi::Env env, std::unique_ptr<PreparedJail> jail, Napi::Function on_setup, Napi::Value on_listener)
      : env_(env), jail_(std::move(jail)), on_setup_(Napi::Persistent(on_setup)), context_(env, "jail.launch") {
    if (on_listener.IsFunction()) on_listener_ = Napi::Persistent(on_listener.As<Napi::Function>());
  }

  // Clones and starts the parent steps; returns the object launch() hands back.
  Napi::Object Start(uv_loop_t* loop) {
    Napi::Env env(env_);
    Napi::Object r = Napi::Object::New(env);
    loop_ = loop;
    Stage stage;
    int op_index;
    if (int err = LaunchClone(*jail_, &st_, &stage, &op_index)) {
      r.Set("ok", false);
      r.Set("stage", StageName(stage));
      r.Set("opIndex", op_index);
      r.Set("errno", err);
      delete this;
      return r;
    }
    kill_fd_ = fcntl(st_.pidfd, F_DUPFD_CLOEXEC, 3);
    r.Set("ok", true);
    r.Set("pid", st_.pid);
    r.Set("pidfd", st_.pidfd);
    int ns_err = 0;
    if (jail_->net_gate) ns_err = OpenNamespaces(r);
    report_poll_.data = this;
    uv_poll_init(loop_, &report_poll_, st_.report_read);
    uv_poll_start(&report_poll_, UV_READABLE | UV_DISCONNECT, OnReport);
    handles_ = 1;
    if (kill_fd_ < 0) {
      // Without a pidfd of our own the child could not be stopped later: stop it now.
      int err = errno;
      syscall(SYS_pidfd_send_signal, st_.pidfd, SIGKILL, nullptr, 0);
      Fail(kStageHandshake, -1, err);
      return r;
    }
    if (ns_err != 0) {
      Fail(kStageNetwork, -1, ns_err);
      return r;
    }
    Advance();
    return r;
  }

 private:
  // The child's network (and user) namespace, opened now, before the go byte: the child still has
  // our credentials, so /proc lets us open them whatever ids it takes later. The caller's network
  // link (pasta) enters them through these fds (the caller owns and closes them).
  int OpenNamespaces(Napi::Object r) {
    int fds[2] = {-1, -1};
    const char* names[2] = {"net", "user"};
    int count = (jail_->spec.clone_flags & CLONE_NEWUSER) ? 2 : 1;
    for (int i = 0; i < count; i++) {
      std::string path = "/proc/" + std::to_string(st_.pid) + "/ns/" + names[i];
      fds[i] = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0) {
        int err = errno;
        for (int j = 0; j < i; j++) close(fds[j]);
        r.Set("netnsFd", -1);
        r.Set("usernsFd", -1);
        return err;
      }
    }
    r.Set("netnsFd", fds[0]);
    r.Set("usernsFd", fds[1]);
    return 0;
  }

  // Runs parent steps until one needs a helper to finish, fails, or the go byte is sent.
  void Advance() {
    while (step_ < kStepCount) {
      pid_t helper = -1;
      if (int err = RunParentStep(*jail_, st_, step_, &helper, &stage_, &op_index_)) return Fail(stage_, op_index_, err);
      step_++;
      if (helper > 0) return WatchHelper(helper);
    }
  }

  void WatchHelper(pid_t helper) {
    helper_ = helper;
    helper_pidfd_ = (int)syscall(SYS_pidfd_open, helper, 0);
    if (helper_pidfd_ < 0 || uv_poll_init(loop_, &helper_poll_, helper_pidfd_) != 0) {
      int err = helper_pidfd_ < 0 ? errno : EIO;
      kill(helper_, SIGKILL);
      ReapHelperBlocking();
      return Fail(stage_, op_index_, err);
    }
    helper_poll_.data = this;
    uv_poll_start(&helper_poll_, UV_READABLE, OnHelperExit);
    handles_++;
  }

  // Only for a helper that was just SIGKILLed: its end is immediate.
  void ReapHelperBlocking() {
    int status;
    while (waitpid(helper_, &status, 0) < 0 && errno == EINTR) {
    }
    helper_ = -1;
  }

  static void OnHelperExit(uv_poll_t* handle, int, int) {
    LaunchSession* s = static_cast<LaunchSession*>(handle->data);
    int status = 0;
    pid_t got = waitpid(s->helper_, &status, WNOHANG);
    if (got == 0) return;
    // ECHILD: the host program ignores SIGCHLD and the kernel reaped it; ask the pidfd instead.
    bool known = got == s->helper_ || ExitStatusOfReaped(s->helper_pidfd_, &status);
    s->helper_ = -1;
    uv_poll_stop(handle);
    // The next helper reuses the poll handle: go on once this one is closed (OnHandleClosed).
    uv_close(reinterpret_cast<uv_handle_t*>(handle), OnHandleClosed);
    if (s->failed_) return;
    // An unknown status counts as failure: never go on with maps that may not be written.
    int err = known ? IdmapHelperResult(status) : ECHILD;
    if (err != 0) return s->Fail(s->stage_, s->op_index_, err);
    s->advance_when_closed_ = true;
  }

  static void OnReport(uv_poll_t* handle, int, int) {
    LaunchSession* s = static_cast<LaunchSession*>(handle->data);
    for (;;) {
      FailureRecord rec;
      int got = ReadReport(s->st_.report_read, &rec);
      if (got == -EAGAIN) return;
      if (got == 2) {
        s->TakeListener(rec.op_index);
      } else if (got == 1) {
        s->Fail((Stage)rec.stage, rec.op_index, rec.err);
      } else if (got < 0) {
        s->Fail(kStageHandshake, -1, -got);
      } else {
        // EOF: the child exec'd or died; either way it has left our memory. The result goes out
        // only now, also for a failure, so that it never reaches the caller before launch()
        // has returned and so that the child is gone when the caller learns of it.
        if (s->step_ < kStepCount) s->Fail(kStageHandshake, -1, ECHILD);  // it died before the go byte
        if (s->helper_ > 0) kill(s->helper_, SIGKILL);             // reaped by OnHelperExit
        // Our fds go before the caller hears of it, so none outlives the launch it belongs to.
        uv_poll_stop(handle);
        s->CloseFds();
        s->Deliver();
        uv_close(reinterpret_cast<uv_handle_t*>(handle), OnHandleClosed);
        return;
      }
    }
  }

  // The listener handshake (unotify.cc): take the child's listener fd, hand it to the caller, who
  // starts answering it at once, then let the child go on. Only once, and only when the plan has
  // a listener: anything else is not our child speaking.
  void TakeListener(int child_fd) {
    if (failed_) return;
    if (listener_taken_ || jail_->listener_filter.empty()) return Fail(kStageHandshake, -1, EPROTO);
    listener_taken_ = true;
    int fd = (int)syscall(SYS_pidfd_getfd, kill_fd_, child_fd, 0);
    if (fd < 0) return Fail(kStageSeccomp, 0, errno);
    Napi::Env env(env_);
    Napi::HandleScope scope(env);
    Napi::Value watching = on_listener_.MakeCallback(env.Global(), {Napi::Number::New(env, fd)}, context_);
    on_listener_.Reset();
    // Not watched means never answered: the program's notified syscalls would hang until the
    // time limit. Stop here instead.
    if (watching.IsEmpty() || !watching.IsBoolean() || !watching.As<Napi::Boolean>().Value()) return Fail(kStageSeccomp, 0, EPROTO);
    if (write(st_.go_write, "L", 1) != 1) Fail(kStageSeccomp, 0, errno);
  }

  // Stops the child (it must not run on, nor wait for a go byte forever); the first failure is
  // the one reported.
  void Fail(Stage stage, int op_index, int err) {
    if (kill_fd_ >= 0) syscall(SYS_pidfd_send_signal, kill_fd_, SIGKILL, nullptr, 0);
    if (helper_ > 0) kill(helper_, SIGKILL);
    if (failed_) return;
    failed_ = true;
    fail_stage_ = stage;
    fail_op_ = op_index;
    fail_errno_ = err;
  }

  void Deliver() {
    Napi::Env env(env_);
    Napi::HandleScope scope(env);
    Napi::Object r = Napi::Object::New(env);
    r.Set("ok", !failed_);
    if (failed_) {
      r.Set("stage", StageName(fail_stage_));
      r.Set("opIndex", fail_op_);
      r.Set("errno", fail_errno_);
    }
    // MakeCallback (not Call) so promise jobs queued by the callback run right after it.
    on_setup_.MakeCallback(env.Global(), {r}, context_);
    on_setup_.Reset();
  }

  static void OnHandleClosed(uv_handle_t* handle) {
    LaunchSession* s = static_cast<LaunchSession*>(handle->data);
    s->handles_--;
    if (handle == reinterpret_cast<uv_handle_t*>(&s->helper_poll_)) {
      close(s->helper_pidfd_);
      s->helper_pidfd_ = -1;
      if (s->advance_when_closed_ && !s->failed_) s->Advance();
      s->advance_when_closed_ = false;
    }
    if (s->handles_ == 0) delete s;
  }

  void CloseFds() {
    for (int* fd : {&kill_fd_, &st_.go_write, &st_.report_read}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }

  ~LaunchSession() { CloseFds(); }

  napi_env env_;
  uv_loop_t* loop_ = nullptr;
  std::unique_ptr<PreparedJail> jail_;
  LaunchState st_;
  Napi::FunctionReference on_setup_;
  Napi::FunctionReference on_listener_;
  Napi::AsyncContext context_;
  int kill_fd_ = -1;
  int step_ = 0;
  Stage stage_ = kStageNone;
  int op_index_ = -1;
  pid_t helper_ = -1;
  int helper_pidfd_ = -1;
  uv_poll_t report_poll_;
  uv_poll_t helper_poll_;
  int handles_ = 0;
  bool failed_ = false;
  bool advance_when_closed_ = false;
  bool listener_taken_ = false;
  Stage fail_stage_ = kStageNone;
  int fail_op_ = -1;
  int fail_errno_ = 0;
};

}  // namespace

// launch(plan, resources, onSetup, onListener): clones the jail and returns {ok: true, pid, pidfd}
// at once, or {ok: false, stage: 'clone', opIndex, errno}. When ok, onSetup is called exactly once,
// later, with {ok: true} when the program has exec'd, or {ok: false, stage, opIndex, errno} when a
// step failed (the child has then been sent SIGKILL and has left this process's memory). The caller
// owns the pidfd (close it after the exit callback) and must watch the exit to reap the child in
// every case. The resources' fds stay owned by the caller. When the plan has a listener filter,
// onListener(fd) is called once, before onSetup, with the caller's own copy of the seccomp
// listener: it must start answering it (watchNotifications) before it returns, because the
// child's next notified syscall may be its execve, and return true; false stops the launch.
Napi::Value LaunchJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsObject() || !info[1].IsObject() || !info[2].IsFunction() ||
      !(info[3].IsFunction() || info[3].IsUndefined())) {
    Napi::TypeError::New(env, "launch(plan: object, resources: object, onSetup: function, onListener: function | undefined)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "launch: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::unique_ptr<PreparedJail> jail = PrepareJail(env, info[0].As<Napi::Object>(), info[1].As<Napi::Object>());
  if (!jail) return env.Undefined();
  if (!jail->listener_body.empty() && !info[3].IsFunction()) {
    Napi::TypeError::New(env, "launch: the plan has a seccomp listener filter but no onListener was given").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  LaunchSession* session = new LaunchSession(env, std::move(jail), info[2].As<Napi::Function>(), info[3]);
  return session->Start(loop);
}

}  // namespace jail
