import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JailError } from '../../../src/errors';
import { registerPolicyCommand } from '../../../src/cli/policy-command';
import { scratchDir } from '../../helpers/scratch';

const dir = scratchDir('policy-cli-');
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

async function cli(args: string[], stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command().exitOverride().configureOutput({ writeOut: (t) => out.push(t), writeErr: (t) => err.push(t) });
  registerPolicyCommand(program, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), fd: (n: number) => n, onFatalSignals: () => () => true, ownsProcess: true, readStdin: async () => stdin, env: {}, cwd: dir });
  let error: unknown;
  try {
    await program.parseAsync(['node', 'jail', ...args]);
  } catch (e) {
    error = e;
  }
  return { out: out.join(''), err: err.join(''), error };
}

describe('jail policy compile', () => {
  const p = file('p.policy', 'ALLOW { read } DEFAULT KILL');
  it('prints a disassembly for the chosen archs', async () => {
    const r = await cli(['policy', 'compile', '--arch', 'x86_64,aarch64', p]);
    expect(r.error).toBeUndefined();
    expect(r.out).toMatch(/^; x86_64\+aarch64: \d+ instructions\n *0: ld  arch/);
    expect(r.out).toContain('jeq #0xc00000b7');
  });
  it('--raw prints a C array', async () => {
    const r = await cli(['policy', 'compile', '--arch', 'x86_64', '--raw', p]);
    expect(r.out).toContain('struct sock_filter filter[] = {\n  { 0x0020,   0,   0, 0x00000004 },');
  });
  it('searches -I directories and rejects unknown archs', async () => {
    file('lib.policy', 'POLICY lib { ERRNO(1) { write } }\n');
    const q = file('q.policy', '#include "lib.policy"\nUSE lib DEFAULT ALLOW');
    const r = await cli(['policy', 'compile', '--arch', 'x86_64', '-I', '/nonexistent', '-I', dir, q]);
    expect(r.out).toContain('ret ERRNO(1)');
    const bad = await cli(['policy', 'compile', '--arch', 'mips', p]);
    expect(bad.error).toBeInstanceOf(JailError);
    expect((bad.error as JailError).code).toBe('flag');
  });
});

describe('jail policy eval', () => {
  const p = file('e.policy', 'ALLOW { write { fd == 1 } } ERRNO(1) { newuname } DEFAULT KILL_PROCESS');
  const inputs = '# comment\n\nx86_64 1 1\nx86_64 1 2\nx86_64 63\nx86_64 0x3f\ni386 1\n3221225534 1 -1\nx86_64 1 0x100000001\n';
  it('evaluates each input line', async () => {
    const r = await cli(['policy', 'eval', '--arch', 'x86_64', p, file('in.txt', inputs)]);
    expect(r.error).toBeUndefined();
    expect(r.out).toBe([
      '0x7fff0000 ALLOW', '0x80000000 KILL_PROCESS', '0x00050001 ERRNO(1)', '0x00050001 ERRNO(1)',
      '0x80000000 KILL_PROCESS', '0x80000000 KILL_PROCESS', '0x7fff0000 ALLOW', '',
    ].join('\n'));
  });
  it("reads '-' from stdin", async () => {
    const r = await cli(['policy', 'eval', '--arch', 'x86_64', p, '-'], 'x86_64 63\n');
    expect(r.out).toBe('0x00050001 ERRNO(1)\n');
  });
  it('prints COMPILE_ERROR first and fails on a policy that does not compile', async () => {
    const bad = file('bad.policy', 'ALLOW { fstat }');
    const r = await cli(['policy', 'eval', '--arch', 'x86_64', bad, '-'], 'x86_64 1\n');
    expect(r.out).toBe(`COMPILE_ERROR\t${bad}:1:9: Undefined identifier 'fstat'\n`);
    expect(r.error).toBeInstanceOf(JailError);
    expect((r.error as JailError).code).toBe('policy');
  });
  it('rejects malformed input lines', async () => {
    const r = await cli(['policy', 'eval', '--arch', 'x86_64', p, '-'], 'x86_64 abc\n');
    expect((r.error as JailError).message).toMatch(/line 1: NR 'abc' is not a number/);
  });
});
