// jail_box_init: PID 1 of a box (src/box/, README "Boxes").
//
// It runs inside the box, already confined as the box is (its namespaces, cgroup, seccomp filter,
// no capabilities, no_new_privs), and starts every `jail box exec` program as its own child, so an
// exec inherits exactly the box's confinement: nothing is re-created for it, so nothing can come
// out wider. It is static (an image may have another libc, or none) and single-threaded.
//
// The control socket is a listening AF_UNIX stream socket that the box's supervisor made on the
// host and passed in (`--control FD`); nothing inside the box can reach it (not mounted, and
// close-on-exec here). Protocol, native-endian (src/box/exec-protocol.ts has the client side):
//   request, one message whose first byte carries SCM_RIGHTS with 3 fds (stdin, stdout, stderr):
//     "JBX1" u32 length, then length bytes: u32 flags; cwd \0; u32 argc; argv \0...; u32 envc; env \0...
//   replies: 'P' i32 pid (started), or 'C' i32 errno (chdir to cwd failed) or 'E' i32 errno (the
//            program could not be started),
//            then 'X' i32 wait status when it ends.
//   the client may send 'K' i32 signal: delivered to the program's process group.
//   client hangup: the program's process group is killed (SIGKILL): nothing outlives its exec.
// SIGTERM from outside the box (the supervisor, `jail box stop`) ends the box; from inside it is
// ignored. `--idle SECONDS`: the box ends after that long with no exec running.
// `--ready FD`: a pipe to `jail box start`, told `{"ok":true}` once the init serves (and closed).
// `--note FD`: a file of the box's run directory, where a clean end is written ("stopped" or
// "idle"), so that the host can tell a box that ended from one whose init was killed.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

namespace {

constexpr uint32_t kFlagTty = 1;
constexpr uint32_t kMaxRequest = 1u << 20;
constexpr int kMaxSessions = 256;
// A client that connects and sends no complete request is dropped after this long.
constexpr int kRequestTimeoutMs = 5000;

struct Session {
  int fd = -1;
  pid_t pid = 0;  // 0: no program (yet)
};

Session sessions[kMaxSessions];
int listen_fd = -1;
int signal_fd = -1;
int note_fd = -1;
long idle_seconds = 0;

void put(int fd, char tag, int32_t value) {
  char msg[5];
  msg[0] = tag;
  memcpy(msg + 1, &value, 4);
  // A client that went away is handled by its hangup; nothing to do about a failed write here.
  (void)!send(fd, msg, sizeof msg, MSG_NOSIGNAL);
}

void end_session(Session& s) {
  if (s.pid > 0) kill(-s.pid, SIGKILL);
  close(s.fd);
  s.fd = -1;
  s.pid = 0;
}

// Reads exactly n bytes within the request deadline.
bool read_full(int fd, char* buf, size_t n, const struct timespec& start) {
  size_t got = 0;
  while (got < n) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = kRequestTimeoutMs - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
    struct pollfd p = {fd, POLLIN, 0};
    int r = left > 0 ? poll(&p, 1, (int)left) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    got += (size_t)k;
  }
  return true;
}

// The first bytes, with the three fds; false (and nothing kept) on anything malformed.
bool read_header(int fd, char header[8], int fds[3]) {
  char control[CMSG_SPACE(3 * sizeof(int))];
  struct iovec iov = {header, 8};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, kRequestTimeoutMs) <= 0) return false;
  ssize_t k = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  bool have_fds = c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(3 * sizeof(int));
  if (have_fds) memcpy(fds, CMSG_DATA(c), 3 * sizeof(int));
  if (k != 8 || !have_fds || (msg.msg_flags & MSG_CTRUNC) || memcmp(header, "JBX1", 4) != 0) {
    if (have_fds)
      for (int i = 0; i < 3; i++) close(fds[i]);
    return false;
  }
  return true;
}

// Splits `count` NUL-terminated strings off the front of [*p, end) into a NULL-ended array.
char** take_strings(char** p, char* end, uint32_t count) {
  if (count > kMaxRequest / 2) return nullptr;
  char** out = (char**)calloc(count + 1, sizeof(char*));
  if (!out) return nullptr;
  for (uint32_t i = 0; i < count; i++) {
    char* nul = (char*)memchr(*p, 0, end - *p);
    if (!nul) {
      free(out);
      return nullptr;
    }
    out[i] = *p;
    *p = nul + 1;
  }
  return out;
}

bool take_u32(char** p, char* end, uint32_t* v) {
  if (end - *p < 4) return false;
  memcpy(v, *p, 4);
  *p += 4;
  return true;
}

// In the forked child: becomes the program, or reports why not on `err_fd` and exits.
[[noreturn]] void become(const int fds[3], uint32_t flags, const char* cwd, char** argv, char** envp, int err_fd) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  setsid();
  for (int i = 0; i < 3; i++) dup2(fds[i], i);
  // A terminal (the client's pty, never the host's own terminal) becomes the controlling one, so
  // job control and ^C work in a shell.
  if (flags & kFlagTty) ioctl(0, TIOCSCTTY, 0);
  // {reply tag, errno}: 'C' the working directory, 'E' the program.
  int failure[2] = {'C', 0};
  if (chdir(cwd) != 0) {
    failure[1] = errno;
  } else {
    environ = envp;  // execvp searches the program's PATH, not the init's
    execvp(argv[0], argv);
    failure[0] = 'E';
    failure[1] = errno;
  }
  (void)!write(err_fd, failure, sizeof failure);
  _exit(127);
}

void start_program(Session& s, const int fds[3], char* body, uint32_t length) {
  char* p = body;
  char* end = body + length;
  uint32_t flags, argc, envc;
  char *cwd, *nul;
  char **argv = nullptr, **envp = nullptr;
  bool ok = take_u32(&p, end, &flags) && (nul = (char*)memchr(p, 0, end - p)) != nullptr;
  if (ok) {
    cwd = p;
    p = nul + 1;
    ok = take_u32(&p, end, &argc) && argc > 0 && (argv = take_strings(&p, end, argc)) != nullptr && take_u32(&p, end, &envc) &&
         (envp = take_strings(&p, end, envc)) != nullptr;
  }
  if (!ok) {
    put(s.fd, 'E', EINVAL);
    free(argv);
    return end_session(s);
  }
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    put(s.fd, 'E', errno);
    free(argv);
    free(envp);
    return end_session(s);
  }
  pid_t pid = fork();
  if (pid == 0) become(fds, flags, cwd, argv, envp, err_pipe[1]);
  int fork_errno = errno;
  close(err_pipe[1]);
  free(argv);
  free(envp);
  if (pid < 0) {
    close(err_pipe[0]);
    put(s.fd, 'E', fork_errno);
    return end_session(s);
  }
  int failure[2] = {0, 0};
  // EOF (exec succeeded, the pipe closed on exec) or why the child could not start the program.
  while (read(err_pipe[0], failure, sizeof failure) < 0 && errno == EINTR) {
  }
  close(err_pipe[0]);
  if (failure[1]) {
    waitpid(pid, nullptr, 0);
    put(s.fd, (char)failure[0], failure[1]);
    return end_session(s);
  }
  s.pid = pid;
  put(s.fd, 'P', pid);
}

void accept_one() {
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  Session* s = nullptr;
  for (auto& candidate : sessions)
    if (candidate.fd < 0) {
      s = &candidate;
      break;
    }
  if (!s) {
    put(fd, 'E', EAGAIN);
    close(fd);
    return;
  }
  s->fd = fd;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  char header[8];
  int fds[3];
  if (!read_header(fd, header, fds)) return end_session(*s);
  uint32_t length;
  memcpy(&length, header + 4, 4);
  char* body = length <= kMaxRequest ? (char*)malloc(length + 1) : nullptr;
  if (body && read_full(fd, body, length, start)) start_program(*s, fds, body, length);
  else end_session(*s);
  free(body);
  for (int i = 0; i < 3; i++) close(fds[i]);
}

// A message from a client whose program runs: 'K' signal, or hangup.
void client_readable(Session& s) {
  char msg[5];
  ssize_t k = recv(s.fd, msg, sizeof msg, MSG_WAITALL | MSG_DONTWAIT);
  if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) return end_session(s);
  if (k == 5 && msg[0] == 'K' && s.pid > 0) {
    int32_t sig;
    memcpy(&sig, msg + 1, 4);
    if (sig > 0 && sig < NSIG) kill(-s.pid, sig);
  }
}

// Reaps every child that ended; a program's client gets its status. Returns whether children remain.
bool reap() {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (auto& s : sessions)
      if (s.fd >= 0 && s.pid == pid) {
        put(s.fd, 'X', status);
        s.pid = 0;  // ended: nothing to kill on hangup
        close(s.fd);
        s.fd = -1;
      }
  }
  return !(pid < 0 && errno == ECHILD);
}

// SIGTERM from outside: every process of the box gets it (each exec's client is told how its
// program ended), then the box ends; the kernel kills what is left when the PID namespace's init
// exits.
[[noreturn]] void shut_down(const char* why) {
  kill(-1, SIGTERM);
  for (int i = 0; i < 20 && reap(); i++) usleep(100000);
  if (note_fd >= 0) (void)!write(note_fd, why, strlen(why));
  _exit(0);
}

int usage(const char* why) {
  fprintf(stderr, "jail_box_init: %s\nusage: jail_box_init --control FD [--idle SECONDS] [--ready FD] [--note FD]\n(it is started by `jail box start`, not by hand)\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int ready_fd = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--control") == 0) listen_fd = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--idle") == 0) idle_seconds = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--ready") == 0) ready_fd = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--note") == 0) note_fd = atoi(argv[i + 1]);
    else return usage("unknown argument");
  }
  if (note_fd >= 0) fcntl(note_fd, F_SETFD, FD_CLOEXEC);
  // The programs run as the init's own user: without this they could reach its fds and memory
  // through /proc/1 (same uid). The host (root, or the box's owner, who holds every capability in
  // the box's user namespace) still reaches /proc/PID/root.
  prctl(PR_SET_DUMPABLE, 0);
  // Nothing inherited but these three stays open (whatever else a launch passed).
  for (int fd = 3; fd < 1024; fd++)
    if (fd != listen_fd && fd != note_fd && fd != ready_fd) close(fd);
  int type = 0;
  socklen_t len = sizeof type;
  if (listen_fd < 3 || getsockopt(listen_fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return usage("--control must name an inherited stream socket");
  fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) return usage("signalfd failed");

  if (ready_fd >= 0) {
    static const char kReady[] = "{\"ok\":true}\n";
    (void)!write(ready_fd, kReady, sizeof kReady - 1);
    close(ready_fd);
  }
  time_t idle_since = time(nullptr);
  struct pollfd polls[kMaxSessions + 2];
  int index_of[kMaxSessions + 2];
  for (;;) {
    int n = 0;
    polls[n++] = {listen_fd, POLLIN, 0};
    polls[n++] = {signal_fd, POLLIN, 0};
    bool busy = false;
    for (int i = 0; i < kMaxSessions; i++)
      if (sessions[i].fd >= 0) {
        busy = true;
        index_of[n] = i;
        polls[n++] = {sessions[i].fd, POLLIN, 0};
      }
    if (busy) idle_since = time(nullptr);
    int timeout = -1;
    if (idle_seconds > 0 && !busy) {
      long left = idle_seconds - (long)(time(nullptr) - idle_since);
      if (left <= 0) shut_down("idle\n");
      timeout = (int)(left * 1000);
    }
    int r = poll(polls, n, timeout);
    if (r < 0 && errno != EINTR) return 1;
    if (r <= 0) continue;
    if (polls[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(signal_fd, &si, sizeof si) == sizeof si) {
        // ssi_pid 0: sent from outside the box's PID namespace (its supervisor).
        if (si.ssi_signo != SIGCHLD && si.ssi_pid == 0) shut_down("stopped\n");
      }
      reap();
    }
    for (int k = 2; k < n; k++)
      if (polls[k].revents && sessions[index_of[k]].fd == polls[k].fd) client_readable(sessions[index_of[k]]);
    if (polls[0].revents & POLLIN) accept_one();
  }
}
