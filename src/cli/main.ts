/**
 * The `jail` command's entry: picks the subcommand, runs it, and is the only place that turns
 * errors into text and exit codes (docs/architecture.md §8). Subcommand modules are required lazily so that
 * `jail -- /bin/true` loads no more than it needs.
 */
import type { CommanderError } from 'commander';
import { formatError } from '../errors';
import { EXIT_BAD_INPUT } from '../exit-codes';
import { processIO, requireProcess, RunCold, type CliIO } from './io';

const SUBCOMMANDS = new Set(['plan', 'check', 'policy', 'config']);

function isCommanderError(e: unknown): e is CommanderError {
  return typeof e === 'object' && e !== null && typeof (e as CommanderError).code === 'string' && (e as CommanderError).code.startsWith('commander.');
}

/**
 * Runs `jail` with `argv` (without node and the script) and returns the exit code. Throws
 * RunCold, having printed nothing, when `io` is a warm run's and the command needs a process of
 * its own.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  try {
    const sub = argv[0];
    if (sub === '--version' && argv.length === 1) {
      io.stdout(`jail ${(require('../../package.json') as { version: string }).version}\n`);
      return 0;
    }
    if (sub === 'warm') {
      requireProcess(io, 'jail warm');
      return await (require('./warm-command') as typeof import('./warm-command')).warmCommand(argv.slice(1), io);
    }
    if (sub === 'policy' || sub === 'config' || sub === 'doctor' || sub === 'serve' || sub === 'box' || sub === 'image') {
      // Long-running (serve, box, image), reading stdin whole (policy -), or rare: not worth a
      // warm path. `box exec` is the exception: run often, and short.
      if (!(sub === 'box' && argv[1] === 'exec')) requireProcess(io, `jail ${sub}`);
      const { Command } = require('commander') as typeof import('commander');
      const program = new Command('jail').exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
      let code = 0;
      if (sub === 'policy') (require('./policy-command') as typeof import('./policy-command')).registerPolicyCommand(program, io);
      else if (sub === 'config') (require('./config-command') as typeof import('./config-command')).registerConfigCommand(program, io);
      else if (sub === 'box') (require('./box-command') as typeof import('./box-command')).registerBoxCommand(program, io, (c) => (code = c));
      else if (sub === 'serve') (require('./serve-command') as typeof import('./serve-command')).registerServeCommand(program, io, (c) => (code = c));
      else if (sub === 'image') (require('./image-command') as typeof import('./image-command')).registerImageCommand(program, io, (c) => (code = c));
      else (require('./doctor-command') as typeof import('./doctor-command')).registerDoctorCommand(program, io, (c) => (code = c));
      await program.parseAsync(argv, { from: 'user' });
      return code;
    }
    const { runJailCommand } = require('./run-command') as typeof import('./run-command');
    return await runJailCommand(SUBCOMMANDS.has(sub) ? (sub as 'plan' | 'check') : 'run', SUBCOMMANDS.has(sub) ? argv.slice(1) : argv, io);
  } catch (e) {
    if (e instanceof RunCold) throw e;
    if (isCommanderError(e)) {
      // commander has already printed its message (or the help text).
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    io.stderr(formatError(e) + '\n');
    return EXIT_BAD_INPUT;
  }
}
