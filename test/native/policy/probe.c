/*
 * Static probe run under the shipped policies (policies.test.ts). "hello" writes a line and
 * exits; "deny" attempts what default-deny.policy refuses and prints NAME=ERRNO per attempt
 * (0 when the call succeeded).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long r) { printf("%s=%d\n", name, r == -1 ? errno : 0); }

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "hello") == 0) {
    static const char msg[] = "hello\n";
    return write(1, msg, sizeof msg - 1) == sizeof msg - 1 ? 0 : 1;
  }
  report("unshare", syscall(SYS_unshare, CLONE_NEWUSER));
  report("ptrace", syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
  report("clone3", syscall(435, NULL, 0));
  report("clone_newnet", syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0));
  char c = 'x';
  report("tiocsti", syscall(SYS_ioctl, 0, TIOCSTI, &c));
  report("personality", syscall(SYS_personality, 0x0200000 /* READ_IMPLIES_EXEC */));
  pid_t pid = fork();
  if (pid == 0) _exit(7);
  int status = 0;
  waitpid(pid, &status, 0);
  printf("fork=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}
