/**
 * What the host program does with signals does not reach the jail, and does not break jail.
 * ignore-signals.c is loaded into a fresh Node process that then runs jails through the library:
 * it ignores SIGCHLD (so the kernel reaps children by itself and jail's wait for its child finds
 * nothing) and ignores one real-time signal and blocks another (both would be inherited by the
 * jailed program). run() must still resolve with the program's real exit status, and the program
 * must start with every signal at its default and none blocked.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { probePath, tempDir } from '../core/helpers';
import { compileC, runNodeScript, scriptJson } from './helpers';

const SCRIPT = (lib: string, probe: string) => `
const fs = require('node:fs');
try { process.dlopen({ exports: {} }, ${JSON.stringify(lib)}); } catch {} // it registers no module; its constructor ran
const status = fs.readFileSync('/proc/self/status', 'utf8');
const mask = (name) => BigInt('0x' + new RegExp('^' + name + ':\\\\s*(\\\\w+)', 'm').exec(status)[1]);
(async () => {
  const exit3 = await jail.run({ config: { chroot: '/' }, command: ['/bin/sh', '-c', 'exit 3'] });
  const probe = await jail.run({ config: { chroot: '/' }, command: [${JSON.stringify(probe)}, 'misc'] });
  const killed = await jail.run({ config: { chroot: '/' }, command: [${JSON.stringify(probe)}, 'segv'] });
  console.log(JSON.stringify({
    hostIgnores: { sigchld: (mask('SigIgn') >> 16n & 1n) === 1n, sig40: (mask('SigIgn') >> 39n & 1n) === 1n },
    hostBlocks41: (mask('SigBlk') >> 40n & 1n) === 1n,
    exit3: { outcome: exit3.outcome, exitCode: exit3.exitCode },
    killed: { outcome: killed.outcome, signal: killed.signal },
    probe: JSON.parse(probe.stdout.trim().split('\\n').pop()),
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describeIf('a host program with odd signal settings', isRoot ? null : 'needs root', () => {
  let tmp: ReturnType<typeof tempDir>;
  let lib: string;
  beforeAll(() => {
    tmp = tempDir('jail-it-signals-');
    lib = compileC('ignore-signals', tmp.dir, ['-shared', '-fPIC']);
  });
  afterAll(() => tmp?.remove());

  it('SIGCHLD ignored: run() still reports the real exit; RT signals ignored or blocked are reset for the program', async () => {
    const r = await runNodeScript(SCRIPT(lib, probePath()), { timeoutMs: 30_000 });
    const out = scriptJson(r) as Record<string, any>;
    // The setup really is what the test claims.
    expect(out.hostIgnores).toEqual({ sigchld: true, sig40: true });
    expect(out.hostBlocks41).toBe(true);
    // The kernel reaped the jails, and jail still knows how each ended (pidfd exit info).
    expect(out.exit3).toEqual({ outcome: 'exited', exitCode: 3 });
    expect(out.killed).toEqual({ outcome: 'signaled', signal: 'SIGSEGV' });
    // Nothing ignored or blocked reaches the program (the probe changes SIGCHLD/SIGPIPE only after reading).
    expect(out.probe.sigIgnored).toEqual([]);
    expect(out.probe.sigBlocked).toEqual([]);
  });
});
