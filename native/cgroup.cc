// cgroup filesystem operations: the syscalls behind creating a jail's cgroups, writing limits,
// reading statistics, killing and removing them. TypeScript decides which files and values
// (src/cgroup/); this file only performs one syscall sequence per call and reports the errno.
//
// Runs in: the Node main thread (small synchronous writes to a pseudo filesystem).
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <string>

namespace jail {

namespace {

bool StringArgs(const Napi::CallbackInfo& info, size_t n, const char* usage) {
  bool ok = info.Length() == n;
  for (size_t i = 0; ok && i < n; i++) ok = info[i].IsString();
  if (!ok) Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
  return ok;
}

}  // namespace

// cgroupMkdir(path): mkdir 0755; returns 0, or an errno (EEXIST included, for the caller to judge).
Napi::Value CgroupMkdir(const Napi::CallbackInfo& info) {
  if (!StringArgs(info, 1, "cgroupMkdir(path: string)")) return info.Env().Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  return Napi::Number::New(info.Env(), mkdir(path.c_str(), 0755) < 0 ? errno : 0);
}

// cgroupRmdir(path): rmdir; returns 0 or an errno (EBUSY while processes remain).
Napi::Value CgroupRmdir(const Napi::CallbackInfo& info) {
  if (!StringArgs(info, 1, "cgroupRmdir(path: string)")) return info.Env().Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  return Napi::Number::New(info.Env(), rmdir(path.c_str()) < 0 ? errno : 0);
}

// cgroupWrite(path, content): one write(2) of content (cgroup files take one value per write);
// returns 0 or an errno.
Napi::Value CgroupWrite(const Napi::CallbackInfo& info) {
  if (!StringArgs(info, 2, "cgroupWrite(path: string, content: string)")) return info.Env().Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string content = info[1].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Napi::Number::New(info.Env(), errno);
  ssize_t n = write(fd, content.data(), content.size());
  int err = n < 0 ? errno : 0;
  close(fd);
  return Napi::Number::New(info.Env(), err);
}

// cgroupRead(path): the file's text (up to 1 MiB), or null when it cannot be read; the errno is
// then in the second element: [text | null, errno].
Napi::Value CgroupRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!StringArgs(info, 1, "cgroupRead(path: string)")) return env.Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Array out = Napi::Array::New(env, 2);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.Set(0u, env.Null());
    out.Set(1u, errno);
    return out;
  }
  std::string text;
  char buf[4096];
  int err = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0 || text.size() > (1 << 20)) break;
    text.append(buf, (size_t)n);
  }
  close(fd);
  if (err != 0) {
    out.Set(0u, env.Null());
  } else {
    out.Set(0u, Napi::String::New(env, text));
  }
  out.Set(1u, err);
  return out;
}

// pidfdOpen(pid): pidfd_open(2) of one pid listed in a jail's cgroup.procs; returns the fd
// (close-on-exec, owned by the caller, who closes it) or -errno (-ESRCH: no such process). The fd
// names that one process for good: a signal sent through it (kill(pidfd, signal)) reaches no
// other, even once the pid number is recycled. TypeScript signals a member only if the pid is
// still listed after its pidfd was opened (src/cgroup/kill.ts).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "pidfdOpen(pid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // pid 0 or less names no single process; a fraction would be cut to another pid.
  double p = info[0].As<Napi::Number>().DoubleValue();
  if (!(p >= 1 && p <= 0x3fffffff) || p != (double)(int64_t)p) {
    Napi::RangeError::New(env, "pidfdOpen: pid must be an integer from 1 to 1073741823, got " + info[0].ToString().Utf8Value())
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  long fd = syscall(SYS_pidfd_open, (pid_t)p, 0);
  return Napi::Number::New(env, fd < 0 ? -errno : (double)fd);
}

// fsType(path): statfs f_type (CGROUP2_SUPER_MAGIC 0x63677270, CGROUP_SUPER_MAGIC 0x27e0eb, ...),
// or -errno.
Napi::Value FsType(const Napi::CallbackInfo& info) {
  if (!StringArgs(info, 1, "fsType(path: string)")) return info.Env().Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct statfs st;
  if (statfs(path.c_str(), &st) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), (double)(unsigned long)st.f_type);
}

}  // namespace jail
