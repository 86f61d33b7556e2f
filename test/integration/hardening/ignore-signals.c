/*
 * Loaded into a Node process with process.dlopen (which then refuses it: it registers no module,
 * but its constructor has run by then). It sets what a careless host program might: a real-time
 * signal ignored and another blocked (both inherited across clone and execve unless jail resets
 * them) and, when JAIL_TEST_IGNORE_SIGCHLD is set, SIGCHLD ignored (the kernel then reaps
 * children by itself, so jail's own wait finds nothing).
 */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>

__attribute__((constructor)) static void ignore_signals(void) {
	if (getenv("JAIL_TEST_IGNORE_SIGCHLD") != NULL) signal(SIGCHLD, SIG_IGN);
	signal(40, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, 41);
	sigprocmask(SIG_BLOCK, &set, NULL);
}
