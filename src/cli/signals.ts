/**
 * The signals that stop `jail` in every mode, as in nsjail: SIGINT, SIGTERM, SIGHUP, SIGQUIT.
 * What stopping means (kill or forward, exit code) is the mode's business.
 */
import { signalNumber } from '../supervisor/report';

const FATAL_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** Calls `onSignal` for each fatal signal until the returned function removes the handlers. */
export function onFatalSignals(onSignal: (signal: number, name: NodeJS.Signals) => void): () => void {
  const handlers = FATAL_SIGNALS.map((name) => {
    const handler = () => onSignal(signalNumber(name)!, name);
    process.on(name, handler);
    return [name, handler] as const;
  });
  return () => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
}
