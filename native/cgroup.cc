// cgroup filesystem operations: the syscalls behind creating a jail's cgroups, writing limits,
// reading statistics, killing and removing them. TypeScript decides which files and values
// (src/cgroup/); this file only performs one syscall sequence per call and reports the errno.
//
// Runs in: the Node main thread (small synchronous writes to a pseudo filesystem).
#include "cgroup.h"
#include "wait.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
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

// cgroupKillPid(pid, signal): kill(2) one member of a jail's cgroup. The caller reads the pid from
// the cgroup's cgroup.procs while the cgroup is frozen (cgroup v1 freezer), so the process can
// neither exit nor fork until it is thawed and the pid cannot have been recycled. Returns 0 or an
// errno (ESRCH when it is gone).
Napi::Value CgroupKillPid(const Napi::CallbackInfo& info) {
  // pid 0 or less would signal a process group or everything; only single processes are meant.
  pid_t pid;
  int sig;
  if (!ReadKillTarget(info, "cgroupKillPid", 1, &pid, &sig)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), kill(pid, sig) < 0 ? errno : 0);
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
