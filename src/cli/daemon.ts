/**
 * `jail -d`: go to the background, as nsjail's daemon(3) call after parsing its flags. Node
 * cannot fork() (its threads would not survive), so `jail` starts a copy of itself instead: the
 * same command line, in a new session (setsid, no controlling terminal), stdin/stdout/stderr on
 * /dev/null, the same working directory (nsjail keeps it too: daemon(nochdir=1)). The copy is
 * marked so that it runs the jail(s) instead of detaching again, and this process exits 0 once
 * the copy has started. Everything is checked before that, so a bad flag or config still fails
 * here, in the foreground.
 */
import { JailError } from '../errors';
import type { Logger } from '../supervisor/log';

/** Marks the background copy. Never reaches a jail: isDaemonCopy() removes it from the environment. */
const MARKER = 'JAIL_DAEMONIZED';

/** True in the background copy of a `jail -d` (which must not detach again). */
export function isDaemonCopy(env: NodeJS.ProcessEnv): boolean {
  const marked = env[MARKER] === '1';
  delete env[MARKER];
  return marked;
}

/**
 * Starts the background copy of this `jail` with `argv` and resolves to its pid once it runs.
 * `keepFds` (>= 3: --log_fd, --report-fd, --pass_fd) stay open in it at the same numbers.
 */
export function daemonize(argv: string[], env: NodeJS.ProcessEnv, cwd: string, keepFds: number[], log: Logger): Promise<number> {
  const kept = keepFds.filter((fd) => fd > 2);
  const stdio: Array<'ignore' | number> = Array.from({ length: Math.max(3, ...kept.map((fd) => fd + 1)) }, () => 'ignore');
  for (const fd of kept) stdio[fd] = fd;
  // Loaded here: every `jail` run checks isDaemonCopy(), few detach.
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  // process.argv[1] is the script that started this process: bin/jail, or what wraps it.
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    cwd,
    env: { ...env, [MARKER]: '1' },
    detached: true,
    stdio,
  });
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new JailError('setup', `--daemon: cannot start jail in the background: ${e.message}`, { hint: 'run without -d to see whether the command itself works' })));
    child.once('spawn', () => {
      child.unref();
      log.info(`running in the background as pid ${child.pid}`);
      resolve(child.pid!);
    });
  });
}
