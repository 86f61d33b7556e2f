/**
 * `jail doctor [--json]`: what works on this machine (src/doctor.ts). Exit 0 when a default jail
 * runs here, 1 when it does not.
 */
import type { Command } from 'commander';
import { doctor, formatDoctorReport } from '../doctor';
import type { CliIO } from './io';

export function registerDoctorCommand(program: Command, io: CliIO, setExit: (code: number) => void): Command {
  return program
    .command('doctor')
    .description('check what jail can do on this machine or in this container, and how to fix what it cannot')
    .option('--json', 'print the checks as one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const report = await doctor();
      io.stdout(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctorReport(report));
      setExit(report.canRun ? 0 : 1);
    });
}
