/**
 * Log events of a jail's life (one line each). The CLI prints them in nsjail's spirit
 * (`[I][2026-11-25T16:00:00+0000] message`); library users get them through a callback.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEvent {
  level: LogLevel;
  message: string;
  time: Date;
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that passes events at or above `min` to `sink`. */
export function makeLogger(sink: (e: LogEvent) => void, min: LogLevel = 'info'): Logger {
  const emit = (level: LogLevel) => (message: string) => {
    if (ORDER[level] >= ORDER[min]) sink({ level, message, time: new Date() });
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = makeLogger(() => {}, 'error');

const LETTER: Record<LogLevel, string> = { debug: 'D', info: 'I', warn: 'W', error: 'E' };

/** nsjail's line shape: `[W][2026-11-25T16:00:00+0000] message`. */
export function formatLogLine(e: LogEvent): string {
  const iso = e.time.toISOString().replace(/\.\d{3}Z$/, '+0000');
  return `[${LETTER[e.level]}][${iso}] ${e.message}\n`;
}
