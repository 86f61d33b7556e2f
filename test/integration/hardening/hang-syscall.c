/*
 * hang-syscall: runs a command under a seccomp filter that sends one syscall (pivot_root) to a
 * user-notification listener that never answers, so any process of the command that makes it
 * blocks there until it is killed. The test uses it to make a jail's setup hang for real, in the
 * kernel, the way a bind source on a dead FUSE or NFS mount would.
 *
 * Usage: hang-syscall CMD [ARGS...]. Exits with the command's status (128+n for signal n).
 * Needs root (CAP_SYS_ADMIN) to install a filter without no_new_privs, which would stop the
 * command's setuid helpers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: hang-syscall CMD [ARGS...]\n");
		return 2;
	}
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pivot_root, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(insns) / sizeof(insns[0]), insns};
	int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener < 0) {
		fprintf(stderr, "hang-syscall: seccomp: %s\n", strerror(errno));
		return 2;
	}
	fcntl(listener, F_SETFD, FD_CLOEXEC);
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "hang-syscall: exec %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) return 2;
	}
	/* The listener closes only now: a notified syscall never got an answer. */
	close(listener);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
