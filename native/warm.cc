// warmReceive: the server side of the warm path's handshake (native/warm_client.cc has the
// protocol). Node's net module cannot receive SCM_RIGHTS, so the request (and the client's
// fds 0, 1, 2) is read here, on a thread-pool thread, from the accepted connection's fd, which
// the JavaScript side keeps paused until this is done.
//
// Runs in: a libuv thread-pool thread (Execute), then the Node main thread (OnOK).
#include "warm.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace jail {

namespace {

// The client sends its request right after connecting; a peer that does not within this time
// is dropped rather than holding a thread-pool thread.
constexpr int kRequestTimeoutMs = 5000;
constexpr uint32_t kMaxBody = 16u << 20;

class ReceiveWorker : public Napi::AsyncWorker {
 public:
  ReceiveWorker(Napi::Function cb, int fd) : Napi::AsyncWorker(cb, "jail.warmReceive"), fd_(fd) {}

  ~ReceiveWorker() override {
    // fds received but never handed to JavaScript (an error after SCM_RIGHTS) are ours to close.
    if (!handed_)
      for (int f : fds_) close(f);
  }

  void Execute() override {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd_, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return Fail("SO_PEERCRED", errno);
    uid_ = cred.uid;
    gid_ = cred.gid;
    pid_ = cred.pid;
    // Nothing is read from a peer of another uid: the JavaScript side refuses it.
    if (cred.uid != getuid()) return;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    std::string buf;
    size_t want = 8;
    while (buf.size() < want) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long left = kRequestTimeoutMs - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
      struct pollfd p = {fd_, POLLIN, 0};
      int r = left > 0 ? poll(&p, 1, (int)left) : 0;
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Fail("poll", errno);
      if (r == 0) return Fail("the client sent no complete request within 5 s", 0);
      char chunk[65536];
      size_t room = want - buf.size() < sizeof(chunk) ? want - buf.size() : sizeof(chunk);
      union {
        char b[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
      } control;
      struct iovec iov = {chunk, room};
      struct msghdr mh = {};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      mh.msg_control = control.b;
      mh.msg_controllen = sizeof(control.b);
      ssize_t n = recvmsg(fd_, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) return Fail("recvmsg", errno);
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
          int f;
          memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          fds_.push_back(f);
        }
      }
      if (mh.msg_flags & MSG_CTRUNC) return Fail("the client sent more than 3 fds", 0);
      // Closed before a byte: `jail warm` probing for a running server, not a failed client.
      if (n == 0 && buf.empty()) return;
      if (n == 0) return Fail("the client closed the connection mid-request", 0);
      buf.append(chunk, (size_t)n);
      if (want == 8 && buf.size() >= 8) {
        if (memcmp(buf.data(), "JW1\0", 4) != 0) return Fail("not a jail_client request (bad magic)", 0);
        uint32_t body;
        memcpy(&body, buf.data() + 4, 4);
        if (body > kMaxBody) return Fail("request larger than 16 MiB", 0);
        want = 8 + body;
      }
    }
    if (fds_.size() != 3) return Fail("the request did not carry exactly 3 fds", 0);
    complete_ = true;
    body_ = buf.substr(8);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("uid", Napi::Number::New(env, uid_));
    r.Set("gid", Napi::Number::New(env, gid_));
    r.Set("pid", Napi::Number::New(env, pid_));
    if (!error_.empty()) {
      r.Set("error", Napi::String::New(env, err_ ? error_ + ": " + strerror(err_) : error_));
    } else if (complete_) {
      r.Set("body", Napi::Buffer<char>::Copy(env, body_.data(), body_.size()));
      Napi::Array a = Napi::Array::New(env, fds_.size());
      for (size_t i = 0; i < fds_.size(); i++) a.Set((uint32_t)i, fds_[i]);
      r.Set("fds", a);
      handed_ = true;
    }
    Callback().Call({env.Null(), r});
  }

 private:
  void Fail(const char* what, int err) {
    error_ = what;
    err_ = err;
  }

  int fd_;
  uid_t uid_ = (uid_t)-1;
  gid_t gid_ = (gid_t)-1;
  pid_t pid_ = 0;
  std::vector<int> fds_;
  std::string body_;
  std::string error_;
  int err_ = 0;
  bool handed_ = false;
  bool complete_ = false;
};

}  // namespace

// warmReceive(fd, cb): reads one request from the accepted connection `fd` (not closed here)
// and calls cb(null, { uid, gid, pid, body?, fds?, error? }). body and fds (O_CLOEXEC, owned by
// the caller) are there only for a complete request from a peer of this process's uid; neither
// they nor error for a peer of another uid (nothing is read) or one that sent nothing.
Napi::Value WarmReceive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "warmReceive(fd: number, cb: function)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  (new ReceiveWorker(info[1].As<Napi::Function>(), info[0].As<Napi::Number>().Int32Value()))->Queue();
  return env.Undefined();
}

}  // namespace jail
