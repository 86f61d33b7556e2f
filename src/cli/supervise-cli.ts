/**
 * Running one jail for the command line: the jail uses the caller's stdin/stdout/stderr, and
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT to `jail` (or to a warm run's client) end it (or, with --forward_signals, are passed on).
 * Either way `jail` then exits 128+signal, as nsjail does, and the time limit keeps running.
 */
import type { LoadedConfig } from '../config/types';
import { loadAddon } from '../native/addon';
import { planJail } from '../run';
import { SIGKILL } from '../sandbox/kernel';
import type { Logger } from '../supervisor/log';
import { openEventSink } from '../supervisor/events';
import type { ExitReport } from '../supervisor/report';
import { openStdio } from '../supervisor/stdio';
import { supervise, type JailHandle } from '../supervisor/supervise';
import type { CliIO } from './io';

/** `events`: the --events target (a file, or fd:N). */
export async function runFromCli(loaded: LoadedConfig, command: string[], io: CliIO, log: Logger, events?: string): Promise<ExitReport> {
  const planned = planJail({ command, config: loaded, env: io.env, cwd: io.cwd });
  for (const w of planned.warnings) log.warn(w);
  const addon = loadAddon();
  const sink = events === undefined ? null : openEventSink(events, io);
  // The caller's own stdio (a warm run's are the client's fds), as nsjail passes its own.
  const stdio = openStdio(addon, { stdin: io.fd(0), stdout: io.fd(1), stderr: io.fd(2), maxOutputBytes: 0 });

  let jail: JailHandle | undefined;
  let caught: number | undefined;
  const off = io.onFatalSignals((n, name) => {
    caught ??= n;
    if (loaded.config.forwardSignals) {
      log.info(`received ${name}: forwarding it to the jail`);
      jail?.kill(n);
    } else {
      log.info(`received ${name}: killing the jail`);
      jail?.kill(SIGKILL);
    }
  });
  try {
    const { report } = await supervise(addon, planned, {
      timeLimit: loaded.config.timeLimit,
      stdio,
      log,
      onEvent: sink ? (e) => sink.write(e) : undefined,
      onStart: (j) => {
        jail = j;
        // A signal that arrived while the jail was being built ends it as soon as it exists.
        if (caught !== undefined) j.kill(loaded.config.forwardSignals ? caught : SIGKILL);
      },
    });
    if (caught !== undefined) report.exitCode = 128 + caught;
    return report;
  } finally {
    sink?.close();
    off();
  }
}
