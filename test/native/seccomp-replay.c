/*
 * seccomp-replay: the kernel side of the policy tests (test/native/policy). Runs in a forked
 * child per input, without root: no_new_privs, then seccomp(2) with the filter the TypeScript
 * compiler produced, then one syscall, and reports what the kernel did.
 *
 *   seccomp-replay replay FILTER [baseline]   stdin: "NR A0..A5" per line
 *        prints per input: RET <value> <errno> | TRAP <si_errno> <si_syscall> | KILL_THREAD | KILL_PROCESS
 *        ("baseline": same without the filter)
 *   seccomp-replay exec FILTER PROG ARGS...   installs the filter and execs PROG (policies/ tests)
 *   seccomp-replay bench FILTER N             ns per getppid() with and without the filter
 *
 * FILTER is a file of struct sock_filter (8 bytes each, host byte order).
 *
 * The syscall runs on a second thread that alone installs the filter, so the main thread stays
 * unfiltered and can tell KILL_THREAD (the thread vanished) from KILL_PROCESS (the child died of
 * SIGSYS). After the syscall, and in the SIGSYS handler, that thread makes no further syscall
 * (a filter may kill exit or rt_sigreturn): it publishes its result in memory and spins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sock_fprog prog;

static void load_filter(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  static struct sock_filter insns[4096];
  size_t n = fread(insns, sizeof insns[0], 4096, f);
  fclose(f);
  if (n == 0) { fprintf(stderr, "%s: empty filter\n", path); exit(2); }
  prog.len = (unsigned short)n;
  prog.filter = insns;
}

static int install(void) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

struct call {
  unsigned long nr, a[6];
};

static struct call the_call;
static int use_filter;
static volatile int state; /* 0 running, 1 returned, 2 trapped, 3 install failed */
static volatile long ret_value;
static volatile int ret_errno, trap_errno, trap_syscall;

static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
  (void)sig; (void)ctx;
  trap_errno = si->si_errno;
  trap_syscall = si->si_syscall;
  state = 2;
  for (;;) __asm__ volatile("" ::: "memory");
}

static void *caller(void *unused) {
  (void)unused;
  if (use_filter && install() != 0) {
    ret_errno = errno;
    state = 3;
    return NULL;
  }
  long r = syscall((long)the_call.nr, the_call.a[0], the_call.a[1], the_call.a[2], the_call.a[3], the_call.a[4], the_call.a[5]);
  int e = r == -1 ? errno : 0;
  ret_value = r;
  ret_errno = e;
  state = 1;
  for (;;) __asm__ volatile("" ::: "memory");
  return NULL;
}

/* In the forked child: returns only through _exit, after printing one line. */
static void child(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, caller, NULL) != 0) { printf("ERROR pthread_create\n"); _exit(0); }
  struct timespec tick = {0, 200000};
  for (int i = 0; i < 25000; i++) {
    if (state == 1) { printf("RET %ld %d\n", ret_value, ret_errno); fflush(stdout); _exit(0); }
    if (state == 2) { printf("TRAP %d %d\n", trap_errno, trap_syscall); fflush(stdout); _exit(0); }
    if (state == 3) { printf("ERROR seccomp install: %s\n", strerror(ret_errno)); fflush(stdout); _exit(0); }
    if (pthread_tryjoin_np(t, NULL) == 0) { printf("KILL_THREAD\n"); fflush(stdout); _exit(0); }
    nanosleep(&tick, NULL);
  }
  printf("ERROR timeout\n");
  fflush(stdout);
  _exit(0);
}

static int replay(void) {
  char line[512];
  while (fgets(line, sizeof line, stdin)) {
    unsigned long v[7] = {0};
    int n = sscanf(line, "%lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]);
    if (n < 1) continue;
    the_call.nr = v[0];
    memcpy(the_call.a, &v[1], sizeof the_call.a);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) child();
    int status;
    if (waitpid(pid, &status, 0) != pid) { perror("waitpid"); return 2; }
    if (WIFSIGNALED(status)) {
      if (WTERMSIG(status) == SIGSYS) printf("KILL_PROCESS\n");
      else printf("ERROR signal %d\n", WTERMSIG(status));
    }
    fflush(stdout);
  }
  return 0;
}

static double ns_per_getppid(long n, int filtered) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    if (filtered && install() != 0) _exit(1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
    if (write(fds[1], &ns, sizeof ns) != sizeof ns) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  double ns = -1;
  if (read(fds[0], &ns, sizeof ns) != sizeof ns) ns = -1;
  close(fds[0]);
  waitpid(pid, NULL, 0);
  return ns;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "replay") == 0) {
    load_filter(argv[2]);
    use_filter = !(argc >= 4 && strcmp(argv[3], "baseline") == 0);
    return replay();
  }
  if (argc >= 4 && strcmp(argv[1], "exec") == 0) {
    load_filter(argv[2]);
    if (install() != 0) { perror("seccomp"); return 2; }
    execv(argv[3], argv + 3);
    return 127; /* execve itself may be refused by the filter; then errno tells */
  }
  if (argc == 4 && strcmp(argv[1], "bench") == 0) {
    load_filter(argv[2]);
    long n = atol(argv[3]);
    double off = ns_per_getppid(n, 0), on = ns_per_getppid(n, 1);
    printf("nofilter_ns %.1f filter_ns %.1f\n", off, on);
    return 0;
  }
  fprintf(stderr, "usage: seccomp-replay replay FILTER [baseline] | exec FILTER PROG ARGS... | bench FILTER N\n");
  return 2;
}
