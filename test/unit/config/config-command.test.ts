import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { registerConfigCommand } from '../../../src/cli/config-command';

async function cli(args: string[]) {
  const out: string[] = [];
  const program = new Command('jail').exitOverride().configureOutput({ writeOut: (t) => out.push(t), writeErr: (t) => out.push(t) });
  registerConfigCommand(program, { stdout: (t) => out.push(t), stderr: (t) => out.push(t), fd: (n: number) => n, onFatalSignals: () => () => true, ownsProcess: true, readStdin: async () => '', env: {}, cwd: '/' });
  await program.parseAsync(['node', 'jail', ...args]);
  return out.join('');
}

describe('jail config', () => {
  it('--help-fields lists every field with type, default, flag and help', async () => {
    const out = await cli(['config', '--help-fields']);
    expect(out).toContain('NsJailConfig:\n');
    expect(out).toContain('  mount_proc  (bool; default false; flag --disable_proc)\n');
    expect(out).toContain('  dst  (string; default ""; required)\n      path inside the jail\n');
    expect(out).toContain('  chroot  (string; flag -c/--chroot; command line only)');
  });

  it('without options prints its usage', async () => {
    expect(await cli(['config'])).toContain('--help-fields');
  });
});
