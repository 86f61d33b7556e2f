/**
 * RERUN mode (nsjail's -Mr): the command runs again each time it ends, each time in a fresh jail
 * (new namespaces, mounts and cgroup), until it is stopped. As in nsjail, a jail that cannot be
 * built ends the loop (nsjail then exits 255) instead of failing again hundreds of times a second.
 */
import { JailError } from '../errors';
import { jailPlanner, libraryLogger, resolveConfig, runPlanned, withNetworkOptions, type RunOptions, type RunResult } from '../run';
import type { Logger } from '../supervisor/log';

export interface RerunOptions extends RunOptions {
  /** Called after each run with its result (1-based `run` number). */
  onReport?: (result: RunResult, run: number) => void;
  /** Stop after this many runs (default: no limit; stop with `signal`). */
  maxRuns?: number;
}

export interface RerunResult {
  /** How many jails ran. */
  runs: number;
  /** The last run's result (undefined when none ran). */
  last: RunResult | undefined;
  /** Why the loop ended: the abort signal, a jail that could not be built, or maxRuns. */
  stoppedBy: 'signal' | 'setup-failed' | 'max-runs';
}

/**
 * Runs the command again and again, each time with run()'s streams and result. Aborting
 * `signal` kills the current jail and ends the loop.
 */
export function rerun(options: RerunOptions = {}): Promise<RerunResult> {
  return rerunWith(options, libraryLogger(options));
}

/** rerun() with the CLI's logger. */
export async function rerunWith(options: RerunOptions, log: Logger): Promise<RerunResult> {
  const max = options.maxRuns ?? Infinity;
  if (max !== Infinity && (!Number.isInteger(max) || max < 1)) {
    throw new JailError('usage', `rerun: maxRuns is ${String(max)}; give a whole number of runs >= 1, or leave it out to run until stopped`);
  }
  const cwd = options.cwd ?? process.cwd();
  const loaded = withNetworkOptions(resolveConfig(options.config, cwd), options);
  const planner = jailPlanner({ ...options, config: loaded, cwd, modes: ['ONCE', 'RERUN'] });
  for (const w of planner.first.warnings) log.warn(w);
  let last: RunResult | undefined;
  for (let run = 1; ; run++) {
    if (options.signal?.aborted) return { runs: run - 1, last, stoppedBy: 'signal' };
    last = await runPlanned(run === 1 ? planner.first : planner.next(), loaded.config.timeLimit, options, log);
    options.onReport?.(last, run);
    if (last.outcome === 'setup-failed') return { runs: run, last, stoppedBy: 'setup-failed' };
    if (run >= max) return { runs: run, last, stoppedBy: 'max-runs' };
  }
}
