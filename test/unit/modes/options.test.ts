/**
 * The modes' options, checked before anything listens or runs: the listen address (nsjail's
 * IPv4 -> IPv4-mapped IPv6 rule), port and limit bounds, rerun's maxRuns; and `jail check` /
 * `jail plan` accepting the mode fields.
 */
import { describe, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import { main } from '../../../src/cli/main';
import type { CliIO } from '../../../src/cli/io';
import { listen, rerun } from '../../../src/index';
import { listenAddress } from '../../../src/modes/listen';
import { isDaemonCopy } from '../../../src/cli/daemon';

const ENV = { PATH: '/usr/bin:/bin' };

async function jail(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), fd: (n: number) => n, onFatalSignals: () => () => true, ownsProcess: true, readStdin: async () => '', env: { ...ENV }, cwd: '/' };
  const code = await main(argv, io);
  return { code, out: out.join(''), err: err.join('') };
}

describe('listen options', () => {
  it('listens on IPv4 addresses through their IPv4-mapped IPv6 form, as nsjail', () => {
    expect(listenAddress('127.0.0.1')).toBe('::ffff:127.0.0.1');
    expect(listenAddress('::')).toBe('::');
    expect(listenAddress('::1')).toBe('::1');
    expect(() => listenAddress('localhost')).toThrow("bindhost: 'localhost' is not an IP address; give an IPv4 or IPv6 address such as 127.0.0.1, ::1 or :: (every address)");
  });

  it('refuses a bad port or limit before listening, saying what is accepted', async () => {
    const command = ['/bin/true'];
    await expect(listen({ command, port: 70000 })).rejects.toThrow('port: 70000 is not a TCP port; give 1..65535, or 0 for a free port the kernel picks');
    await expect(listen({ command, port: 1.5 })).rejects.toThrow('port: 1.5 is not a TCP port');
    await expect(listen({ command, maxConns: -1 })).rejects.toThrow('maxConns: -1 is not a count; give a whole number >= 0 (0 = no limit)');
    await expect(listen({ command, maxConnsPerIp: 0.5 })).rejects.toThrow('maxConnsPerIp: 0.5 is not a count');
    await expect(listen({ command, host: 'example.org' })).rejects.toThrow("bindhost: 'example.org' is not an IP address");
  });

  it('refuses a config of another mode, naming the entry point for it', async () => {
    await expect(listen({ command: ['/bin/true'], config: { mode: 'RERUN' } })).rejects.toMatchObject({
      message: 'mode RERUN: this runs jails in ONCE or LISTEN mode only',
      hint: 'RERUN mode is run by rerun(); omit mode here (ONCE is the default)',
    });
  });
});

describe('rerun options', () => {
  it('refuses a maxRuns that is not a whole number >= 1', async () => {
    await expect(rerun({ command: ['/bin/true'], maxRuns: 0 })).rejects.toThrow('rerun: maxRuns is 0; give a whole number of runs >= 1, or leave it out to run until stopped');
  });
  it('refuses a config of another mode', async () => {
    await expect(rerun({ command: ['/bin/true'], config: { mode: 'LISTEN' } })).rejects.toMatchObject({
      message: 'mode LISTEN: this runs jails in ONCE or RERUN mode only',
      hint: 'LISTEN mode is run by listen(); omit mode here (ONCE is the default)',
    });
  });
});

describe('jail check / plan with the mode fields', () => {
  it('accepts -Ml with its limits, -Mr and -d', async () => {
    for (const flags of [['-Ml', '--port', '8080', '--bindhost', '127.0.0.1', '--max_conns', '4', '-i', '2'], ['-p', '0'], ['-Mr'], ['-d', '--log', '/tmp/x.log']]) {
      const r = await jail('check', '--chroot', '/', ...flags, '--', '/bin/true');
      expect([r.code, r.out, r.err], flags.join(' ')).toEqual([0, 'OK\n', '']);
    }
    const plan = await jail('plan', '--chroot', '/', '-Mr', '--', '/bin/true');
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.out).exec.path).toBe('/bin/true');
  });

  it('refuses a port out of range and a bindhost that is not an address with the field checks', async () => {
    const r = await jail('check', '-p', '70000');
    expect(r.code).toBe(255);
    expect(r.err).toMatch(/70000 is not a TCP port \(0\.\.65535\)/);
    const h = await jail('check', '--bindhost', 'localhost');
    expect(h.code).toBe(255);
    expect(h.err).toMatch(/'localhost' is not an IP address; give an IPv4 or IPv6 address/);
  });
});

describe('the daemon marker', () => {
  it('is seen once and removed, so it never reaches a jail', () => {
    const env: NodeJS.ProcessEnv = { JAIL_DAEMONIZED: '1', A: 'b' };
    expect(isDaemonCopy(env)).toBe(true);
    expect(env).toEqual({ A: 'b' });
    expect(isDaemonCopy(env)).toBe(false);
  });
});
