/**
 * Exit codes of the `jail` command, chosen once (nsjail's values, so scripts written for nsjail
 * keep working) and never reused for another meaning. The jailed program's own exit code passes
 * through unchanged; death by signal n gives 128+n.
 */
export const EXIT_TIMEOUT = 137; // the time limit hit: the jail was SIGKILLed (128+9), as nsjail
export const EXIT_OOM = 137; // the memory cgroup killed the program (SIGKILL), as nsjail
export const EXIT_SECCOMP = 159; // a seccomp KILL action ended the program (128+SIGSYS), as nsjail
export const EXIT_SETUP_FAILED = 255; // the jail could not be built or the command not started
export const EXIT_BAD_INPUT = 255; // bad flags, config or policy errors: nothing was launched

/** Rows for `--help` and the README; kept next to the constants so they cannot drift. */
export const EXIT_CODE_TABLE: ReadonlyArray<[string, string]> = [
  ['0-125', "the jailed program's own exit code"],
  ['128+n', 'the jailed program died of signal n (e.g. 137 = SIGKILL, 143 = SIGTERM)'],
  ['137', 'time limit reached (-t) or memory limit reached: the jail was killed'],
  ['159', 'seccomp violation: the policy killed the program (SIGSYS)'],
  ['128+n', 'jail itself got SIGINT/SIGTERM (n) and killed the jail (130, 143)'],
  ['255', 'setup failure, command not found, bad flag, config or policy error'],
];
