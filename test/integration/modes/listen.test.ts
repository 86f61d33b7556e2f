/**
 * LISTEN mode on loopback (127.0.0.1, 127.0.0.2 as a second client address, ::1), a port the
 * kernel picks: one jail per connection with the socket as its stdio, max_conns and
 * max_conns_per_ip, the time limit, SIGTERM to the listener; and the library's listen().
 * Every jailed command carries a marker in its argv, so whatever a test leaves is found and
 * killed after it.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { listen, type ExitReport } from '../../../src/index';
import { assertBuilt, cli, killSpawned, parseFlags, waitFor, type CliResult } from '../core/helpers';
import { connect, killWith, listeningPort, marker, survivorsWith } from './helpers';

const markers: string[] = [];
function mark(name: string): string {
  const m = marker(name);
  markers.push(m);
  return m;
}

/** Prints its pid namespace, then echoes every line back until EOF; `m` is its $0 (argv). */
const ECHO = (m: string) => ['/bin/sh', '-c', 'echo "ns $(readlink /proc/self/ns/pid)"; while read -r l; do echo "echo:$l"; done', m];
const NS = /ns pid:\[(\d+)\]\n/;

interface Running {
  child: ChildProcess;
  port: number;
  done: Promise<CliResult>;
  /** What the CLI has printed on stderr so far. */
  stderr(): string;
}

async function startCli(flags: string[], m: string): Promise<Running> {
  let child!: ChildProcess;
  const done = cli(['-Ml', '--bindhost', '127.0.0.1', '--port', '0', '--chroot', '/', '--report', 'json', ...flags, '--', ...ECHO(m)], {
    onSpawn: (c) => (child = c),
    timeoutMs: 90_000,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await listeningPort(child);
  return { child, port, done, stderr: () => stderr };
}

/** The JSON report lines on the CLI's stderr. */
const reports = (stderr: string): ExitReport[] => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ExitReport);

describeAsRoot('LISTEN mode (-Ml)', () => {
  beforeAll(() => assertBuilt());
  afterEach(() => {
    killSpawned();
    for (const m of markers.splice(0)) killWith(m);
  });

  it('gives two concurrent connections a jail each, the socket as stdin and stdout, the peer in the log and the report', async () => {
    const m = mark('two');
    const l = await startCli(['-t', '60'], m);
    const a = connect('127.0.0.1', l.port);
    const b = connect('127.0.0.1', l.port);
    const nsA = NS.exec(await a.waitFor(NS))![1];
    const nsB = NS.exec(await b.waitFor(NS))![1];
    expect(nsA).not.toBe(nsB);
    a.socket.write('from a\n');
    b.socket.write('from b\n');
    expect(await a.waitFor(/echo:from a\n/)).not.toMatch(/from b/);
    expect(await b.waitFor(/echo:from b\n/)).not.toMatch(/from a/);
    // The client's EOF is the jail's: its loop ends and it exits 0, closing the connection.
    a.socket.end();
    b.socket.end();
    await Promise.all([a.closed, b.closed]);
    l.child.kill('SIGTERM');
    const r = await l.done;
    expect(r.code, r.stderr).toBe(0);
    const ports = [a.localPort(), b.localPort()];
    for (const p of ports) expect(r.stderr).toContain(`New connection from: [::ffff:127.0.0.1]:${p} on: [::ffff:127.0.0.1]:${l.port}`);
    const rs = reports(r.stderr);
    expect(rs.map((x) => x.outcome)).toEqual(['exited', 'exited']);
    expect(rs.map((x) => x.peer).sort()).toEqual(ports.map((p) => `[::ffff:127.0.0.1]:${p}`).sort());
    expect(await survivorsWith(m)).toEqual([]);
  });

  it('--max_conns 1 closes a second connection at once and logs it; the next one after the first ended is served', async () => {
    const m = mark('max');
    const l = await startCli(['--max_conns', '1', '-t', '60'], m);
    const a = connect('127.0.0.1', l.port);
    await a.waitFor(NS);
    const b = connect('127.0.0.1', l.port);
    expect(await b.closed).toBe('');
    a.socket.write('still here\n');
    await a.waitFor(/echo:still here\n/);
    a.socket.end();
    await a.closed;
    // The connection closes when the jail's program exits; the jail counts until it has been
    // reaped and cleaned up, which its report marks.
    await waitFor(() => reports(l.stderr()).length === 1, 10_000, "the first jail's report");
    const c = connect('127.0.0.1', l.port);
    await c.waitFor(NS);
    c.socket.end();
    await c.closed;
    l.child.kill('SIGTERM');
    const r = await l.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Rejecting connection from '[::ffff:127.0.0.1]:${b.localPort()}', max_conns limit reached: 1`);
    expect(reports(r.stderr)).toHaveLength(2);
  });

  it('--max_conns_per_ip 1 refuses a second connection from one address, not one from another', async () => {
    const m = mark('perip');
    const l = await startCli(['--max_conns_per_ip', '1', '-t', '60'], m);
    const a = connect('127.0.0.1', l.port, '127.0.0.1');
    await a.waitFor(NS);
    const b = connect('127.0.0.1', l.port, '127.0.0.1');
    expect(await b.closed).toBe('');
    const c = connect('127.0.0.1', l.port, '127.0.0.2');
    await c.waitFor(NS);
    a.socket.end();
    c.socket.end();
    await Promise.all([a.closed, c.closed]);
    l.child.kill('SIGTERM');
    const r = await l.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Rejecting connection from '[::ffff:127.0.0.1]:${b.localPort()}', max_conns_per_ip limit reached: 1`);
    expect(r.stderr).toContain('New connection from: [::ffff:127.0.0.2]:');
    expect(reports(r.stderr).map((x) => x.peer)).toContain(`[::ffff:127.0.0.2]:${c.localPort()}`);
  });

  it('-t 1 kills a connection\'s jail and so closes its socket; the report says timeout', async () => {
    const m = mark('timeout');
    const l = await startCli(['-t', '1'], m);
    const start = Date.now();
    const a = connect('127.0.0.1', l.port, undefined, 20_000);
    await a.waitFor(NS);
    await a.closed; // the client never ends it: only the time limit can
    expect(Date.now() - start).toBeGreaterThanOrEqual(900);
    l.child.kill('SIGTERM');
    const r = await l.done;
    expect(reports(r.stderr)).toMatchObject([{ outcome: 'timeout', exitCode: 137, peer: `[::ffff:127.0.0.1]:${a.localPort()}` }]);
  });

  it('SIGTERM stops listening, kills the running jails, closes their connections and exits 0 with nothing left', async () => {
    const m = mark('sigterm');
    const l = await startCli(['-t', '60'], m);
    const a = connect('127.0.0.1', l.port);
    const b = connect('127.0.0.1', l.port);
    await Promise.all([a.waitFor(NS), b.waitFor(NS)]);
    l.child.kill('SIGTERM');
    await Promise.all([a.closed, b.closed]);
    const r = await l.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('received SIGTERM: no more connections; killing 2 jail(s)');
    expect(reports(r.stderr).map((x) => x.outcome)).toEqual(['signaled', 'signaled']);
    expect(await survivorsWith(m)).toEqual([]);
    const late = connect('127.0.0.1', l.port);
    await expect(late.closed).resolves.toBe('');
  });

  it('listen(): serves over ::1, reports each jail with its peer, and close() kills what runs and leaves nothing', async () => {
    const m = mark('lib');
    const { config } = parseFlags(['--chroot', '/', '-t', '60', '--', ...ECHO(m)]);
    const got: ExitReport[] = [];
    const listener = await listen({ config, command: ECHO(m), host: '::1', port: 0, maxConns: 2, onReport: (r) => got.push(r) });
    try {
      expect(listener.host).toBe('::1');
      const a = connect('::1', listener.port);
      await a.waitFor(NS);
      a.socket.end('bye\n');
      expect(await a.closed).toMatch(/echo:bye\n$/);
      const b = connect('::1', listener.port);
      await b.waitFor(NS);
      expect(listener.active).toBe(1);
      await listener.close();
      await b.closed;
      expect(listener.active).toBe(0);
      expect(got.map((r) => [r.outcome, r.peer])).toEqual([
        ['exited', `[::1]:${a.localPort()}`],
        ['signaled', `[::1]:${b.localPort()}`],
      ]);
      expect(await survivorsWith(m)).toEqual([]);
    } finally {
      await listener.close();
    }
  });

  it('listen(): aborting its signal closes it', async () => {
    const m = mark('abort');
    const { config } = parseFlags(['--chroot', '/', '-t', '60', '--', ...ECHO(m)]);
    const abort = new AbortController();
    const listener = await listen({ config, command: ECHO(m), host: '127.0.0.1', port: 0, signal: abort.signal });
    const a = connect('127.0.0.1', listener.port);
    await a.waitFor(NS);
    abort.abort();
    await listener.closed;
    await a.closed;
    expect(await survivorsWith(m)).toEqual([]);
  });
});
