/*
 * Loaded into a Node process with process.dlopen (which then refuses it: it registers no module,
 * but its constructor has run by then). It sets what a careless host program might: SIGCHLD
 * ignored (the kernel then reaps children by itself, so jail's own wait finds nothing), a
 * real-time signal ignored and another blocked (both inherited across clone and execve unless
 * jail resets them).
 */
#include <signal.h>
#include <stddef.h>

__attribute__((constructor)) static void ignore_signals(void) {
	signal(SIGCHLD, SIG_IGN);
	signal(40, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, 41);
	sigprocmask(SIG_BLOCK, &set, NULL);
}
