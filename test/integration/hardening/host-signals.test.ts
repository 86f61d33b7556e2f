/**
 * What the host program does with signals does not reach the jail, and does not break jail.
 * ignore-signals.c is loaded into a fresh Node process that then runs jails through the library.
 * It ignores one real-time signal and blocks another (the jailed program must start with every
 * signal at its default and none blocked); and, in the second test, it ignores SIGCHLD, so the
 * kernel reaps children by itself and jail's own wait finds nothing: run() must still resolve
 * with the program's real exit status (Linux >= 6.15 keeps it in the pidfd), or with a clear
 * error on older kernels, never hang.
 */
import * as os from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { probePath, tempDir } from '../core/helpers';
import { compileC, runNodeScript, scriptJson } from './helpers';

function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = os.release().split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** Loads the library, checks it took effect, runs `body` (an async function body), prints its result. */
const script = (lib: string, body: string) => `
const fs = require('node:fs');
try { process.dlopen({ exports: {} }, ${JSON.stringify(lib)}); } catch {} // it registers no module; its constructor ran
const status = fs.readFileSync('/proc/self/status', 'utf8');
const bit = (name, sig) => (BigInt('0x' + new RegExp('^' + name + ':\\\\s*(\\\\w+)', 'm').exec(status)[1]) >> BigInt(sig - 1)) & 1n;
const host = { sigchldIgnored: bit('SigIgn', 17) === 1n, sig40Ignored: bit('SigIgn', 40) === 1n, sig41Blocked: bit('SigBlk', 41) === 1n };
const ended = (r) => ({ outcome: r.outcome, exitCode: r.exitCode, signal: r.signal, stdout: r.stdout });
const caught = (e) => ({ error: e.message });
(async () => { ${body} })().then((result) => console.log(JSON.stringify({ host, ...result })), (e) => { console.error(e); process.exit(1); });
`;

describeIf('a host program with odd signal settings', isRoot ? null : 'needs root', () => {
  let tmp: ReturnType<typeof tempDir>;
  let lib: string;
  beforeAll(() => {
    tmp = tempDir('jail-it-signals-');
    lib = compileC('ignore-signals', tmp.dir, ['-shared', '-fPIC']);
  });
  afterAll(() => tmp?.remove());

  it('real-time signals the host ignores or blocks are reset for the program (all 64 are)', async () => {
    const body = `const probe = await jail.run({ config: { chroot: '/' }, command: [${JSON.stringify(probePath())}, 'misc'] }).then(ended, caught);
      return { probe: JSON.parse(probe.stdout.trim().split('\\n').pop()) };`;
    const out = scriptJson(await runNodeScript(script(lib, body), { timeoutMs: 30_000 })) as Record<string, any>;
    expect(out.host).toEqual({ sigchldIgnored: false, sig40Ignored: true, sig41Blocked: true });
    // The probe reads its dispositions before changing any of its own.
    expect(out.probe.sigIgnored).toEqual([]);
    expect(out.probe.sigBlocked).toEqual([]);
  });

  it('SIGCHLD ignored: run() reports how the program really ended, or says why it cannot; it never hangs', async () => {
    const body = `return {
        exit3: await jail.run({ config: { chroot: '/' }, command: ['/bin/sh', '-c', 'exit 3'] }).then(ended, caught),
        segv: await jail.run({ config: { chroot: '/' }, command: [${JSON.stringify(probePath())}, 'segv'] }).then(ended, caught),
      };`;
    const out = scriptJson(await runNodeScript(script(lib, body), { timeoutMs: 30_000, env: { JAIL_TEST_IGNORE_SIGCHLD: '1' } })) as Record<string, any>;
    expect(out.host.sigchldIgnored).toBe(true);
    if (kernelAtLeast(6, 15)) {
      expect(out.exit3).toMatchObject({ outcome: 'exited', exitCode: 3, signal: null });
      expect(out.segv).toMatchObject({ outcome: 'signaled', exitCode: 139, signal: 'SIGSEGV' });
    } else {
      for (const r of [out.exit3, out.segv]) expect(r.error).toMatch(/something else in this process reaped the jail/);
    }
  });
});
