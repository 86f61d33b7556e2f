/**
 * `jail -Ml` and `jail -Mr`: thin adapters from the command line to listen() and rerun()
 * (src/modes/). Both stop on SIGINT/SIGTERM/SIGHUP/SIGQUIT, killing their jails, or with
 * --forward_signals passing the signal on and starting no more jails. As in nsjail, LISTEN then
 * exits 0 and RERUN 128+signal.
 */
import type { LoadedConfig } from '../config/types';
import { listenWith } from '../modes/listen';
import { rerunWith } from '../modes/rerun';
import type { StartedJail } from '../run';
import { SIGKILL } from '../sandbox/kernel';
import type { Logger } from '../supervisor/log';
import type { ExitReport } from '../supervisor/report';
import type { CliIO } from './io';
import { onFatalSignals } from './signals';

export async function listenFromCli(loaded: LoadedConfig, command: string[], io: CliIO, log: Logger, onReport: (r: ExitReport) => void): Promise<number> {
  const listener = await listenWith({ config: loaded, command, env: io.env, cwd: io.cwd, onReport }, log);
  const forward = loaded.config.forwardSignals;
  const off = onFatalSignals((n, name) => {
    log.info(`received ${name}: no more connections; ${forward ? 'forwarding it to' : 'killing'} ${listener.active} jail(s)`);
    void listener.close(forward ? n : SIGKILL);
  });
  try {
    await listener.closed;
    return 0;
  } finally {
    off();
  }
}

export async function rerunFromCli(loaded: LoadedConfig, command: string[], io: CliIO, log: Logger, onReport: (r: ExitReport) => void): Promise<number> {
  const stop = new AbortController();
  let current: StartedJail | undefined;
  let caught: number | undefined;
  const off = onFatalSignals((n, name) => {
    caught ??= n;
    if (loaded.config.forwardSignals && current) {
      log.info(`received ${name}: forwarding it to the jail; no more runs`);
      current.kill(n);
    } else {
      log.info(`received ${name}: killing the jail; no more runs`);
      stop.abort();
    }
  });
  try {
    const result = await rerunWith(
      {
        config: loaded,
        command,
        env: io.env,
        cwd: io.cwd,
        stdin: 'inherit',
        stdout: 'inherit',
        stderr: 'inherit',
        signal: stop.signal,
        onStart: (jail) => (current = jail),
        onReport: (r) => {
          current = undefined;
          onReport(r);
          // A forwarded signal lets the jail end on its own; then the loop stops.
          if (caught !== undefined) stop.abort();
        },
      },
      log,
    );
    return caught !== undefined ? 128 + caught : (result.last?.exitCode ?? 0);
  } finally {
    off();
  }
}
