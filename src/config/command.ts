/**
 * Which program runs with which argv, from exec_bin and the words after `--`, as nsjail
 * decides it:
 *  - argv is the command line after `--` when there is one; otherwise exec_bin's path and
 *    args, with exec_bin.arg0 (if set) replacing argv[0];
 *  - the program is exec_bin.path (from the config or -x) when set, otherwise argv[0].
 * So a config's exec_bin with `-- /bin/printf hi` runs exec_bin.path with argv
 * [/bin/printf, hi]. No PATH lookup here: the planner resolves bare names.
 */
import { JailError } from '../errors';
import type { Config } from './types';

export interface ResolvedCommand {
  /** What to execute (may be a bare name; the planner looks it up on PATH). */
  path: string;
  argv: string[];
}

export function resolveCommand(config: Config, argvAfterDashDash: readonly string[]): ResolvedCommand {
  const exe = config.execBin;
  let argv: string[];
  if (argvAfterDashDash.length > 0) argv = [...argvAfterDashDash];
  else if (exe) argv = [exe.arg0 ?? exe.path, ...exe.arg];
  else argv = [];
  const path = exe?.path || argv[0] || '';
  if (path === '') {
    throw new JailError('flag', 'no command to run: give it after -- (jail [flags] -- /bin/prog args), or set exec_bin { path: ... } in the config');
  }
  if (argv.length === 0) argv = [path];
  return { path, argv };
}
