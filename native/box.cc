// The host side of boxes (src/box/): what Node's own modules cannot do.
//   boxListen: the control socket a box's init serves (native/box_init.cc), made here so that its
//     fd can be passed into the box (a net.Server's fd would be served by Node too).
//   boxConnect: a request to the init, its first byte carrying the client's stdin, stdout and
//     stderr (SCM_RIGHTS, which Node's net module cannot send); the connected fd is returned for
//     Node to read the replies from.
//   openInRoot: a file inside a box's root opened with every path component, symlinks included,
//     resolved inside that root (openat2 RESOLVE_IN_ROOT): a link the box planted cannot make the
//     host open its own files.
//   openPty / setWindowSize: the pseudo-terminal of an interactive exec (the box gets the new
//     terminal's slave side, never the user's own terminal), in the box's own devpts instance.
//   readXattr: an extended attribute of a path, unfollowed (box diff reads overlayfs' opaque
//     mark; Node has no xattr call).
//
// Runs in: the Node main thread. Every call is short: connect() to a listening unix socket does
// not wait for the peer.
#include "box.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>

namespace jail {

namespace {

bool UnixAddress(const std::string& path, struct sockaddr_un* addr) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path) return false;
  memcpy(addr->sun_path, path.c_str(), path.size());
  return true;
}

}  // namespace

// boxListen(path): a listening AF_UNIX stream socket at path (mode 0600), CLOEXEC.
Napi::Value BoxListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "boxListen(path: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr;
  if (!UnixAddress(path, &addr)) return ThrowErrno(env, "socket path " + path, ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, "socket", errno);
  // The directory is the caller's own (0700); the socket is too, from the moment it exists.
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr*)&addr, sizeof addr);
  int err = errno;
  umask(old);
  if (r != 0 || listen(fd, 64) != 0) {
    if (r == 0) err = errno;
    close(fd);
    return ThrowErrno(env, "bind " + path, err);
  }
  return Napi::Number::New(env, fd);
}

// boxConnect(path, request: Buffer, fds: [in, out, err]): the connected fd (CLOEXEC, blocking),
// after sending the request with the fds on its first byte.
Napi::Value BoxConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsArray() || info[2].As<Napi::Array>().Length() != 3) {
    Napi::TypeError::New(env, "boxConnect(path: string, request: Buffer, fds: [number, number, number])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Buffer<char> request = info[1].As<Napi::Buffer<char>>();
  Napi::Array list = info[2].As<Napi::Array>();
  int fds[3];
  for (uint32_t i = 0; i < 3; i++) fds[i] = list.Get(i).As<Napi::Number>().Int32Value();
  struct sockaddr_un addr;
  if (!UnixAddress(path, &addr)) return ThrowErrno(env, "socket path " + path, ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, "socket", errno);
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "connect " + path, err);
  }
  char control[CMSG_SPACE(sizeof fds)];
  memset(control, 0, sizeof control);
  struct iovec iov = {request.Data(), request.Length()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  // The init reads the 8-byte header with the fds first; the rest may follow in more writes.
  size_t sent = 0;
  while (sent < request.Length()) {
    ssize_t k = sent == 0 ? sendmsg(fd, &msg, MSG_NOSIGNAL) : send(fd, request.Data() + sent, request.Length() - sent, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      int err = errno;
      close(fd);
      return ThrowErrno(env, "send to " + path, err);
    }
    sent += (size_t)k;
  }
  return Napi::Number::New(env, fd);
}

// openInRoot(root, path, flags, mode, fsuid, fsgid): open(2) of path inside root, resolved
// there, as fsuid:fsgid (-1: as we are). Root opens as the box's user: a box's own filesystems
// (its overlay root) cannot even hold a file of host root's, and the user's permissions apply.
// setfsuid/setfsgid change only the calling thread's ids (the raw system calls; no other Node
// thread is affected) and are restored before returning.
Napi::Value OpenInRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber() || !info[5].IsNumber()) {
    Napi::TypeError::New(env, "openInRoot(root: string, path: string, flags: number, mode: number, fsuid: number, fsgid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fsuid = info[4].As<Napi::Number>().Int32Value();
  int fsgid = info[5].As<Napi::Number>().Int32Value();
  std::string root = info[0].As<Napi::String>().Utf8Value();
  std::string path = info[1].As<Napi::String>().Utf8Value();
  int root_fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return ThrowErrno(env, "open " + root, errno);
  struct open_how how = {};
  how.flags = (uint64_t)(info[2].As<Napi::Number>().Int64Value() | O_CLOEXEC);
  // openat2 refuses a mode unless the file may be created (O_TMPFILE contains O_DIRECTORY's bit).
  bool creates = (how.flags & O_CREAT) || (how.flags & O_TMPFILE) == O_TMPFILE;
  how.mode = creates ? (uint64_t)info[3].As<Napi::Number>().Int64Value() : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long old_gid = fsgid >= 0 ? syscall(SYS_setfsgid, fsgid) : -1;
  long old_uid = fsuid >= 0 ? syscall(SYS_setfsuid, fsuid) : -1;
  int fd = (int)syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
  int err = errno;
  if (old_uid >= 0) syscall(SYS_setfsuid, old_uid);
  if (old_gid >= 0) syscall(SYS_setfsgid, old_gid);
  close(root_fd);
  if (fd < 0) return ThrowErrno(env, "open " + path, err);
  return Napi::Number::New(env, fd);
}

// openPty(ptmx?): [master, slave] of a new pseudo-terminal, both CLOEXEC, master non-blocking.
// Given `ptmx`, an open ptmx of some devpts instance (a box's), the terminal is that instance's
// and `ptmx` becomes the master; otherwise the host's (/dev/ptmx).
Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 1 || (info.Length() == 1 && !info[0].IsNumber())) {
    Napi::TypeError::New(env, "openPty(ptmx?: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int master = info.Length() == 1 ? info[0].As<Napi::Number>().Int32Value() : posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (master < 0) return ThrowErrno(env, "posix_openpt", errno);
  int slave = -1;
  // The slave is opened through the master (TIOCGPTPEER), never by a path a box could replace.
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) == 0) slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    int err = errno;
    if (info.Length() == 0) close(master);  // a given ptmx stays the caller's to close
    return ThrowErrno(env, "open the pty's slave", err);
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, master));
  out.Set(1u, Napi::Number::New(env, slave));
  return out;
}

// setWindowSize(fd, columns, rows): TIOCSWINSZ; 0 or an errno.
Napi::Value SetWindowSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "setWindowSize(fd: number, columns: number, rows: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct winsize ws = {};
  ws.ws_col = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
  ws.ws_row = (unsigned short)info[2].As<Napi::Number>().Uint32Value();
  int r = ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCSWINSZ, &ws);
  return Napi::Number::New(env, r == 0 ? 0 : errno);
}

// readXattr(path, name): the attribute's value as a string, or null when the path has none
// (ENODATA) or the filesystem keeps none (ENOTSUP). Never follows a link in the last component.
Napi::Value ReadXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsString()) {
    Napi::TypeError::New(env, "readXattr(path: string, name: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  char value[256];
  ssize_t n = lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) return env.Null();
    return ThrowErrno(env, "getxattr " + name + " of " + path, errno);
  }
  return Napi::String::New(env, value, (size_t)n);
}

}  // namespace jail
