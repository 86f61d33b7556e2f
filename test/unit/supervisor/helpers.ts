/** Shared pieces of the supervisor unit tests: plans, a recording JailStdio, a log sink. */
import { buildPlan, type PlannedJail } from '../../../src/sandbox';
import type { LogEvent } from '../../../src/supervisor/log';
import { makeLogger, type Logger } from '../../../src/supervisor/log';
import type { Captured, JailStdio } from '../../../src/supervisor/stdio';
import { fromFlags } from '../../helpers/config';
import { FAKE_ENV, fakeHost, type FakeHostOptions } from '../../helpers/fake-host';
import type { Filter } from '../../../src/policy/types';

const realSetImmediate = globalThis.setImmediate;

/** A plan from nsjail flags against the fake host. */
export function planned(argv: string[], host: FakeHostOptions = {}, filter: Filter | null = null): PlannedJail {
  const { loaded, command } = fromFlags(argv);
  return buildPlan(loaded, { command, env: FAKE_ENV, filter, host: fakeHost(host) });
}

export interface RecordingStdio extends JailStdio {
  events: string[];
  finishGrace: number[];
}

/** A JailStdio that records what the supervisor does with it (no real fds). */
export function recordingStdio(fds: [number, number, number] = [-1, -1, -1], output: { stdout?: Captured; stderr?: Captured } = {}): RecordingStdio {
  const events: string[] = [];
  const finishGrace: number[] = [];
  return {
    fds,
    stdin: null,
    stdout: null,
    stderr: null,
    events,
    finishGrace,
    closeChildEnds: () => void events.push('closeChildEnds'),
    destroy: () => void events.push('destroy'),
    async finish(graceMs) {
      events.push('finish');
      finishGrace.push(graceMs);
      return output;
    },
  };
}

export function logSink(level: 'debug' | 'info' = 'debug'): { log: Logger; events: LogEvent[]; text: () => string[] } {
  const events: LogEvent[] = [];
  return { log: makeLogger((e) => events.push(e), level), events, text: () => events.map((e) => `${e.level}: ${e.message}`) };
}

/** One real turn of the event loop (not affected by fake timers). */
export const turn = () => new Promise<void>((r) => realSetImmediate(r));

/** Turns the event loop until `cond` holds (at most `turns` times). */
export async function until(cond: () => boolean, what: string, turns = 500): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await turn();
  }
  throw new Error(`still waiting for: ${what}`);
}
