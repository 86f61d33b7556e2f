/**
 * The `jail` command through main(argv, io) with a capturing CliIO: help, plan, check, bad
 * input, and dispatch to the policy and config subcommands. Running a jail (`jail -- cmd`) needs
 * the addon and a kernel: those cases live in the native and integration layers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import { main } from '../../../src/cli/main';
import type { CliIO } from '../../../src/cli/io';
import { EXIT_CODE_TABLE } from '../../../src/exit-codes';
import { scratchDir } from '../../helpers/scratch';

const dir = scratchDir('jail-cli-test-');
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };

async function jail(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), fd: (n: number) => n, onFatalSignals: () => () => true, ownsProcess: true, readStdin: async () => '', env: ENV, cwd: dir };
  const code = await main(argv, io);
  return { code, out: out.join(''), err: err.join('') };
}

/** A bad-input error: exit 255, nothing on stdout, the error on one line (plus at most one hint or suggestion line). */
function expectOneLineError(r: { code: number; out: string; err: string }): string {
  expect(r.code).toBe(255);
  expect(r.out).toBe('');
  const lines = r.err.trimEnd().split('\n');
  expect(lines[0]).not.toMatch(/^\s*(at |internal error)/);
  expect(r.err).not.toContain('Usage:');
  // The error itself is one line; a hint (docs/architecture.md §8) or commander's suggestion may follow.
  for (const extra of lines.slice(1)) expect(extra).toMatch(/^(  hint: |\(Did you mean )/);
  expect(lines.length).toBeLessThanOrEqual(2);
  return lines[0];
}

describe('jail --help', () => {
  it('lists the flags, the exit codes and the PATH note, and exits 0', async () => {
    const r = await jail('--help');
    expect(r.code).toBe(0);
    const help = r.out + r.err;
    for (const flag of ['--chroot', '--time_limit', '--rlimit_as', '--bindmount_ro', '--disable_clone_newnet', '--keep_env', '--report-fd', '--report-file']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('Exit codes:');
    for (const [code, text] of EXIT_CODE_TABLE) expect(help).toContain(`${code.padEnd(6)} ${text}`);
    expect(help).toMatch(/bare name .* looked up on your PATH/);
  });

  it('-h works too, and `jail plan --help` describes plan', async () => {
    expect((await jail('-h')).code).toBe(0);
    const r = await jail('plan', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Print the JSON plan');
  });
});

describe('jail plan', () => {
  it('prints the plan as JSON and runs nothing', async () => {
    const r = await jail('plan', '--chroot', '/', '--', '/bin/true');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out);
    expect(plan).toMatchObject({ version: 5, hostname: 'NSJAIL', exec: { path: '/bin/true', argv: ['/bin/true'], envp: [] } });
    expect(plan.mounts.map((m: { op: string }) => m.op)).toContain('pivot');
  });

  it('--version prints the package version and exits 0', async () => {
    const r = await jail('--version');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`jail ${(JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  it('resolves a bare command on the io env PATH, and prints warnings on stderr', async () => {
    const r = await jail('plan', '-u', '0', '--chroot', '/', '--', 'true');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).exec.path).toMatch(/^\/(usr\/)?bin\/true$/);
    expect(r.err).toContain('warning: ');
  });

  it('a command that is not on PATH is an error (255)', async () => {
    const line = expectOneLineError(await jail('plan', '--chroot', '/', '--', 'no-such-command-xyz'));
    expect(line).toContain("command not found: 'no-such-command-xyz'");
  });
});

describe('jail check', () => {
  it('OK for good flags and a good config file', async () => {
    const cfg = file('ok.cfg', 'hostname: "box"\ntime_limit: 5\nmount { src: "/usr" dst: "/usr" is_bind: true }\n');
    const r = await jail('check', '-C', cfg);
    expect(r).toEqual({ code: 0, out: 'OK\n', err: '' });
    expect(await jail('check', '--chroot', '/', '--', '/bin/true')).toEqual({ code: 0, out: 'OK\n', err: '' });
  });

  it('255 with file:line:col for a bad config file', async () => {
    const cfg = file('bad.cfg', 'hostname: "box"\ntime_limit: "soon"\n');
    const r = await jail('check', '-C', cfg);
    expect(r.code).toBe(255);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/bad\.cfg:2:\d+: /);
  });

  it('255 for what the plan would refuse, even without a command: a missing bind source, at its line', async () => {
    const cfg = file('missing.cfg', 'hostname: "box"\nmount { src: "/nonexistent/jail-check" dst: "/x" is_bind: true }\n');
    const r = await jail('check', '-C', cfg);
    expect(r.code).toBe(255);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/missing\.cfg:2:\d+: mount\[0\]\.src: mount #1 \/nonexistent\/jail-check -> \/x \(bind, ro\): the source .* does not exist on the host/);
  });

  it('255 for a seccomp policy that does not compile', async () => {
    const r = await jail('check', '--seccomp_string', 'ALLOW { no_such_syscall } DEFAULT KILL');
    expect(r.code).toBe(255);
    expect(r.err).toContain('no_such_syscall');
  });
});

describe('bad flags: one line, 255, nothing launched', () => {
  it('-t abc', async () => {
    const line = expectOneLineError(await jail('-t', 'abc', '--', '/bin/true'));
    expect(line).toContain('--time_limit');
    expect(line).toContain('abc');
    expect(line).toMatch(/expected|accepted/);
  });

  it('--rlimit_as -5', async () => {
    const line = expectOneLineError(await jail('--rlimit_as', '-5', '--', '/bin/true'));
    expect(line).toContain('--rlimit_as');
    expect(line).toContain('-5');
    expect(line).toContain('soft|hard|inf|def|max');
  });

  it('an unknown flag, with a suggestion', async () => {
    const r = await jail('--chrot', '/', '--', '/bin/true');
    expect(r.code).toBe(255);
    expect(r.err).toContain("unknown option '--chrot'");
    expect(r.err).toContain('--chroot');
    expectOneLineError(r);
  });

  it('--report-fd x', async () => {
    const line = expectOneLineError(await jail('--report-fd', 'x', '--', '/bin/true'));
    expect(line).toContain("--report-fd: 'x' is not a file descriptor number");
  });

  it('-B of a missing path', async () => {
    const line = expectOneLineError(await jail('plan', '-B', '/nonexistent-jail-test-path', '--', '/bin/true'));
    expect(line).toContain('/nonexistent-jail-test-path');
  });

  it('no command at all', async () => {
    const line = expectOneLineError(await jail('plan'));
    expect(line).toContain('no command to run');
  });

  it('several bad values are all reported', async () => {
    const r = await jail('plan', '-t', 'abc', '--rlimit_nofile', 'lots', '--', '/bin/true');
    expect(r.code).toBe(255);
    expect(r.err).toContain('--time_limit');
    expect(r.err).toContain('--rlimit_nofile');
  });
});

describe('subcommands', () => {
  it('jail config --help-fields lists the config fields', async () => {
    const r = await jail('config', '--help-fields');
    expect(r.code).toBe(0);
    for (const f of ['time_limit', 'rlimit_as', 'mount', 'clone_newnet', 'uidmap']) expect(r.out).toContain(f);
  });

  it('jail policy compile prints the BPF program; eval evaluates', async () => {
    const p = file('p.policy', 'ALLOW { read } DEFAULT KILL');
    const r = await jail('policy', 'compile', '--arch', 'x86_64', p);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^; x86_64: \d+ instructions/);
    const inputs = file('in.txt', 'x86_64 0\nx86_64 1\n');
    const e = await jail('policy', 'eval', '--arch', 'x86_64', p, inputs);
    expect(e.code).toBe(0);
    expect(e.out.trim().split('\n').map((l) => l.split(' ')[1])).toEqual(['ALLOW', 'KILL_THREAD']);
  });

  it('an unknown policy subcommand is 255', async () => {
    const r = await jail('policy', 'frobnicate');
    expect(r.code).toBe(255);
  });
});
