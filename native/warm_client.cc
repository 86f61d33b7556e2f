// jail_client: the warm path of the `jail` command (README "Warm supervisor").
//
// A cold `jail` pays Node's start-up and the CLI's module loading on every run (~60 ms of the
// playground line's ~120). `jail warm` keeps one Node supervisor per user running; this small
// program hands it one run: argv, the environment, the working directory and its fds 0, 1, 2
// (SCM_RIGHTS), then waits for the exit code and exits with it. The server runs the CLI's own
// code path with those, so output, exit codes and reports are those of a cold run.
//
// Whenever there is no usable server (no socket, connection refused, a socket in a directory
// that is not private to this uid, or the server answers "run cold" for a run that needs a
// process of its own: -d, -Me, --pass_fd, jail serve...), it execs the Node CLI, bin/jail,
// with the same argv: the behaviour is then the cold one, byte for byte.
//
// Protocol (one connection per run, same machine so host byte order):
//   client -> server: "JW1\0", u32 body length, body = u32 argc, argc NUL-terminated strings,
//                     u32 envc, envc strings, the cwd string; fds 0, 1, 2 ride on the first byte.
//                     Then one byte per caught signal (its number).
//   server -> client: 'C' (run cold: exec the Node CLI), or 'X' + i32 exit code.
// The server kills the run when the connection closes, so a client killed by SIGKILL takes its
// jail with it, as the cold CLI's death does (PR_SET_PDEATHSIG).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

extern char** environ;

namespace {

// The server refuses larger requests; Linux's own argv+env limit is far below it by default.
constexpr uint32_t kMaxBody = 16u << 20;

volatile sig_atomic_t g_sock = -1;

void ForwardSignal(int sig) {
  // One byte per signal; the server does what the cold CLI does on it (kill the jail, or
  // forward it with --forward_signals) and reports 128+sig as the exit code.
  unsigned char b = (unsigned char)sig;
  if (g_sock >= 0) (void)!write(g_sock, &b, 1);
}

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = 0;
  std::string p(buf);
  return p.substr(0, p.rfind('/'));
}

// Execs the Node CLI with our argv: the cold path. build/Release/jail_client -> bin/jail.
[[noreturn]] void RunCold(char** argv) {
  const char* over = getenv("JAIL_CLI");
  std::string cli = over != nullptr && *over != 0 ? over : SelfDir() + "/../../bin/jail";
  argv[0] = const_cast<char*>(cli.c_str());
  execv(cli.c_str(), argv);
  fprintf(stderr, "jail: cannot run the Node CLI %s: %s (set JAIL_CLI to bin/jail's path)\n", cli.c_str(), strerror(errno));
  _exit(255);
}

// The socket path, as `jail warm` computes it (src/cli/warm-socket.ts).
std::string SocketPath() {
  const char* over = getenv("JAIL_WARM_SOCKET");
  if (over != nullptr && *over != 0) return over;
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && *xdg == '/') return std::string(xdg) + "/jail/warm.sock";
  return "/tmp/jail-" + std::to_string(getuid()) + "/warm.sock";
}

// The socket must be ours, in a directory only we can enter: otherwise another user could
// stand in as the server and receive our fds and environment. A missing socket is the normal
// "no server" case (silent); anything else unexpected says why before going cold.
bool SocketIsOurs(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    // EACCES and the like: a directory we cannot search, e.g. one another user made in /tmp.
    if (errno != ENOENT)
      fprintf(stderr, "jail: not using the warm server socket %s: %s (check that its directory is yours, mode 0700); running cold\n",
              path.c_str(), strerror(errno));
    return false;
  }
  uid_t uid = getuid();
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat dst;
  if (!S_ISSOCK(st.st_mode) || st.st_uid != uid || lstat(dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode) ||
      dst.st_uid != uid || (dst.st_mode & 077) != 0) {
    fprintf(stderr,
            "jail: not using the warm server socket %s: it must be a socket owned by uid %u in a directory owned by it with "
            "mode 0700 (remove it, or start `jail warm` again); running cold\n",
            path.c_str(), (unsigned)uid);
    return false;
  }
  return true;
}

void PutU32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= (size_t)r;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = getenv("JAIL_WARM");
  if (mode != nullptr && strcmp(mode, "0") == 0) RunCold(argv);
  // A closed 0/1/2 cannot be passed; the cold CLI handles that case as it always did.
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0) RunCold(argv);

  std::string path = SocketPath();
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path) || !SocketIsOurs(path)) RunCold(argv);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) RunCold(argv);
  // Refused (a stale socket of a dead server) or anything else: the cold path.
  if (connect(sock, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(sock);
    RunCold(argv);
  }

  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) {
    close(sock);
    RunCold(argv);
  }
  std::string body;
  PutU32(&body, (uint32_t)(argc - 1));
  for (int i = 1; i < argc; i++) body.append(argv[i], strlen(argv[i]) + 1);
  uint32_t envc = 0;
  for (char** e = environ; *e != nullptr; e++) envc++;
  PutU32(&body, envc);
  for (char** e = environ; *e != nullptr; e++) body.append(*e, strlen(*e) + 1);
  body.append(cwd, strlen(cwd) + 1);
  if (body.size() > kMaxBody) {
    close(sock);
    RunCold(argv);
  }
  std::string msg("JW1\0", 4);
  PutU32(&msg, (uint32_t)body.size());
  msg += body;

  // From here on the fatal signals are caught and sent to the server, one byte each.
  g_sock = sock;
  struct sigaction sa = {};
  sa.sa_handler = ForwardSignal;
  sigemptyset(&sa.sa_mask);
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&block, sig);
  // Blocked while the request goes out, so no signal byte lands inside it (they arrive after).
  sigprocmask(SIG_BLOCK, &block, &old);
  // Kept to be restored before a cold exec: the Node CLI must start with the dispositions we got.
  struct sigaction saved[5];
  const int caught[5] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
  for (int i = 0; i < 4; i++) sigaction(caught[i], &sa, &saved[i]);
  // The server may exit with the write half-done; that is an EOF below, not a SIGPIPE death.
  struct sigaction ign = {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &saved[4]);

  int fds[3] = {0, 1, 2};
  union {
    char buf[CMSG_SPACE(sizeof(fds))];
    struct cmsghdr align;
  } control = {};
  struct iovec iov = {const_cast<char*>(msg.data()), msg.size()};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof(control.buf);
  struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(fds));
  memcpy(CMSG_DATA(cm), fds, sizeof(fds));
  ssize_t sent;
  do sent = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent <= 0 || !WriteAll(sock, msg.data() + sent, msg.size() - (size_t)sent)) {
    fprintf(stderr, "jail: cannot send the run to the warm server %s: %s\n", path.c_str(), strerror(errno));
    return 255;
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);

  char kind = 0;
  if (!ReadAll(sock, &kind, 1)) {
    // Our own uid's server closed without an answer: it died, or refused us (it logs why).
    fprintf(stderr, "jail: the warm server %s closed the connection without an exit status (see its log)\n", path.c_str());
    return 255;
  }
  if (kind == 'C') {
    close(sock);
    g_sock = -1;
    for (int i = 0; i < 5; i++) sigaction(caught[i], &saved[i], nullptr);
    RunCold(argv);
  }
  int32_t code = 0;
  if (kind != 'X' || !ReadAll(sock, reinterpret_cast<char*>(&code), sizeof(code))) {
    fprintf(stderr, "jail: the warm server %s sent a malformed answer\n", path.c_str());
    return 255;
  }
  return code & 0xff;
}
