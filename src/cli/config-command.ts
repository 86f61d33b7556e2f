/**
 * `jail config --help-fields`: the reference of every sandbox.cfg field (type, default, flag,
 * help), printed from the schema so it cannot drift from what the parser accepts.
 */
import type { Command } from 'commander';
import { renderFieldsHelp } from '../config/help';
import type { CliIO } from './io';

export function registerConfigCommand(program: Command, io: CliIO): Command {
  return program
    .command('config')
    .description("about sandbox.cfg, nsjail's config format")
    .option('--help-fields', 'list every config field with its type, default, flag and help')
    .action((opts: { helpFields?: boolean }, cmd: Command) => {
      if (opts.helpFields) io.stdout(renderFieldsHelp());
      else io.stdout(cmd.helpInformation());
    });
}
