/**
 * jail's networking (issue 10) against the lab (lab.ts): `--net none|host|internet|limited`,
 * `--allow DEST`, `--publish [HOSTIP:]HOSTPORT:JAILPORT[/tcp|/udp]`, `--events` net lines, and a
 * jail that cannot change its own routing rules. Every case runs as root and rootless (an
 * unprivileged test user, through the lab's tun wrapper), with jail started in the lab namespace
 * so its pasta only ever sees the lab's world.
 *
 * The jailed client is probe.py (python3 from the host, through `--chroot /`); each jail runs a
 * batch of attempts in one process, in parallel, so a case costs one jail start and at most one
 * 3 s probe timeout. "Blocked" means refused at once: elapsed < 1 s with ENETUNREACH (jail's
 * unreachable rules) or ECONNREFUSED — not a hang until the timeout.
 *
 * These fail until the implementation is on main; lab.test.ts proves the lab itself works.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeIf } from '../../helpers/env';
import { unprivilegedUser } from '../unprivileged-user';
import { hostProcesses, REPO } from '../core/helpers';
import {
  BLOCKED_HOSTS,
  HOSTS,
  LAB_BODY_PREFIX,
  LAB_TCP_PORTS,
  PROBE_PY,
  PUBLIC_HOSTS,
  PYTHON,
  TCP_PORTS,
  UDP_PORT,
  worldBody,
  type LabResult,
} from './lab';
import { labReason, parseLast, processesWhere, useLab, waitFor, type ProbeOut } from './net-helpers';

/** What a blocked attempt may fail with (refused at once, by jail's rules or by jail itself). */
const REFUSED = ['ENETUNREACH', 'ECONNREFUSED'];
/** "At once": well below the probe's 3 s timeout. */
const AT_ONCE_MS = 1000;

type Op = (string | number)[];
const tcp = (host: string, port: number): Op => ['tcp', host, port];
const udp = (host: string, port = UDP_PORT): Op => ['udp', host, port];

function expectReached(r: ProbeOut, body?: string): void {
  expect(r.ok, `should be reached: ${JSON.stringify(r)}`).toBe(true);
  if (body !== undefined) expect(r.body, JSON.stringify(r)).toContain(body);
}

function expectRefusedAtOnce(r: ProbeOut): void {
  expect(r.ok, `should be refused: ${JSON.stringify(r)}`).toBe(false);
  expect(REFUSED, `errno of ${JSON.stringify(r)}`).toContain(r.errno);
  expect(r.ms, `should fail at once: ${JSON.stringify(r)}`).toBeLessThan(AT_ONCE_MS);
}

function expectFailed(r: ProbeOut): void {
  expect(r.ok, `should fail: ${JSON.stringify(r)}`).toBe(false);
}

/** Never the lab's own services, whatever else happened. */
function expectNotLab(r: ProbeOut): void {
  expect(`${r.body ?? ''}`, `reached the lab itself: ${JSON.stringify(r)}`).not.toContain(LAB_BODY_PREFIX);
}

/** The jail CLI running `sleep MARKER` with --net, by its command line. */
const cliFor = (marker: string) => processesWhere((a) => a[0] === process.execPath && a.includes(marker) && a.includes('--net'));

/** pasta processes started by `cli` (setpriv execs pasta, so pasta is the CLI's child). */
const pastaOf = (cli: number) => hostProcesses().filter((p) => p.ppid === cli && p.comm.startsWith('pasta')).map((p) => p.pid);

/** A jail's init running `/bin/sleep MARKER`. */
const sleeper = (marker: string) => processesWhere((a) => a[0] === '/bin/sleep' && a[1] === marker);

describeIf('net: jail --net/--allow/--publish against the lab', labReason(), () => {
  const fixture = unprivilegedUser('jail-it-net');
  const { L } = useLab();
  /** probe.py as every jail user can read it. */
  let probePy = PROBE_PY;

  beforeAll(() => {
    const u = fixture().user;
    try {
      execFileSync('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--clear-groups', 'test', '-r', PROBE_PY], { timeout: 10_000 });
    } catch {
      // The checkout is not readable by the user (a checkout under /root): use a copy.
      probePy = path.join(fixture().dir, 'probe.py');
      fs.copyFileSync(PROBE_PY, probePy);
      fs.chmodSync(probePy, 0o644);
    }
  });

  describe.each(['root', 'rootless'] as const)('as %s', (mode) => {
    const who = () => ({ uid: fixture().user.uid, gid: fixture().user.gid });
    const jailBin = () => (mode === 'root' ? path.join(REPO, 'bin', 'jail') : path.join(fixture().jailRoot, 'bin', 'jail'));
    /** Ports of --publish differ per mode, so a slow teardown of one cannot fail the other. */
    const portBase = mode === 'root' ? 18080 : 18180;

    /** A directory the jail's user can write (for --events files). */
    const writableDir = (name: string) => {
      const d = path.join(L().dir, `${mode}-${name}-${Date.now()}`);
      fs.mkdirSync(d, { mode: 0o755 });
      if (mode === 'rootless') fs.chownSync(d, who().uid, who().gid);
      return d;
    };

    const jailArgv = (flags: string[], command: string[]) => [process.execPath, jailBin(), '-q', '--chroot', '/', '-t', '30', ...flags, '--', ...command];

    /** `jail FLAGS -- COMMAND` in the lab namespace, as this mode's user. */
    const jail = (flags: string[], command: string[], timeoutMs = 40_000): Promise<LabResult> =>
      L().run(jailArgv(flags, command), { user: mode, as: who(), timeoutMs });

    /** One jail running every attempt of `ops`; the results, in order. */
    const attempts = async (flags: string[], ops: Op[]): Promise<ProbeOut[]> => {
      const r = await jail(flags, [PYTHON, probePy, 'batch', JSON.stringify(ops.map((o) => o.map(String)))]);
      const out = parseLast(r);
      expect(out.results, JSON.stringify(out)).toHaveLength(ops.length);
      return out.results as ProbeOut[];
    };

    it('--net internet: public v4 and v6 hosts answer over TCP and UDP; public.test resolves and connects', async () => {
      const ops: Op[] = [];
      for (const h of PUBLIC_HOSTS) {
        for (const port of TCP_PORTS) ops.push(tcp(HOSTS[h], port));
        ops.push(udp(HOSTS[h]));
      }
      ops.push(['dns', 'public.test'], tcp('public.test', 80), ['http', 'http://public.test/'], ['dns', 'public6.test'], udp('public.test'));
      const res = await attempts(['--net', 'internet'], ops);
      for (const r of res) {
        const [kind, host, port] = r.op as string[];
        if (kind === 'tcp' || kind === 'udp') {
          const addr = host === 'public.test' ? HOSTS.public4 : host;
          expectReached(r, worldBody(addr, Number(port)));
        }
      }
      const byOp = (k: string) => res.find((r) => (r.op as string[]).join(' ') === k)!;
      expect(byOp('dns public.test')).toMatchObject({ ok: true, addrs: [HOSTS.public4] });
      expect(byOp('dns public6.test')).toMatchObject({ ok: true, addrs: [HOSTS.public6] });
      expect(byOp('http http://public.test/')).toMatchObject({ ok: true, status: 200, body: worldBody(HOSTS.public4, 80) });
    });

    it('--net internet: every blocked range (10/8, 172.16/12, 192.168/16, 100.64/10, metadata, fd00::) is refused at once, TCP and UDP, also v4-mapped and by name', async () => {
      const ops: Op[] = [];
      for (const h of BLOCKED_HOSTS) ops.push(tcp(HOSTS[h], 80), tcp(HOSTS[h], 443), udp(HOSTS[h]));
      ops.push(tcp(`::ffff:${HOSTS.private10}`, 80), udp(`::ffff:${HOSTS.private10}`), tcp(`::ffff:${HOSTS.metadata}`, 80));
      ops.push(tcp('private.test', 80), tcp('metadata.test', 80), tcp('rebind.test', 80), tcp('ula.test', 80));
      const res = await attempts(['--net', 'internet'], ops);
      for (const r of res) expectRefusedAtOnce(r);
    });

    it("--net internet: the lab's own addresses and its loopback services are unreachable by every address", async () => {
      const ops: Op[] = [];
      for (const addr of [L().labAddress, L().labAddress6, L().gateway, L().gateway6, '127.0.0.1', '::1']) {
        for (const port of LAB_TCP_PORTS) ops.push(tcp(addr, port));
        ops.push(udp(addr));
      }
      const res = await attempts(['--net', 'internet'], ops);
      for (const r of res) {
        expectNotLab(r);
        const [, addr] = r.op as string[];
        // Inside the jail, 127.0.0.1/::1 are the jail's own (nothing listens there), so they are
        // refused; the lab's addresses must fail too (not reach the lab, nor hang).
        if (r.op[0] === 'tcp') expectFailed(r);
        if (r.op[0] === 'tcp' && (addr === L().labAddress || addr === L().labAddress6)) expectRefusedAtOnce(r);
      }
    });

    it('--net none (also the default): nothing is reachable, names do not resolve to anything usable', async () => {
      const ops: Op[] = [tcp(HOSTS.public4, 80), udp(HOSTS.public4), tcp(HOSTS.public6, 443), tcp(HOSTS.private10, 80), tcp(L().labAddress, 80), tcp('public.test', 80), ['http', 'http://public.test/']];
      for (const flags of [['--net', 'none'], []]) {
        const res = await attempts(flags, ops);
        for (const r of res) {
          expectFailed(r);
          expectNotLab(r);
          expect(r.ms, JSON.stringify(r)).toBeLessThan(AT_ONCE_MS + 2000);
        }
        for (const r of res.slice(0, 5)) expectRefusedAtOnce(r);
      }
    });

    it('--net host: the jail shares the lab namespace (the lab loopback service answers)', async () => {
      const res = await attempts(['--net', 'host'], [tcp('127.0.0.1', LAB_TCP_PORTS[0]), tcp(HOSTS.public4, 80)]);
      expectReached(res[0], LAB_BODY_PREFIX);
      expectReached(res[1], worldBody(HOSTS.public4, 80));
    });

    it('--net limited: TCP 80 and 443 on public hosts work; 8080, UDP and blocked ranges fail', async () => {
      const res = await attempts(['--net', 'limited'], [
        tcp(HOSTS.public4, 80),
        tcp(HOSTS.public4, 443),
        tcp(HOSTS.public6, 443),
        tcp(HOSTS.public4, 8080),
        udp(HOSTS.public4),
        udp(HOSTS.public6),
        tcp(HOSTS.private10, 80),
        tcp(HOSTS.metadata, 80),
        tcp(L().labAddress, 80),
      ]);
      expectReached(res[0], worldBody(HOSTS.public4, 80));
      expectReached(res[1], worldBody(HOSTS.public4, 443));
      expectReached(res[2], worldBody(HOSTS.public6, 443));
      for (const r of res.slice(3)) {
        expectFailed(r);
        expectNotLab(r);
      }
      for (const r of res.slice(6)) expectRefusedAtOnce(r);
    });

    it('--allow 203.0.113.20/32:80 reaches only that address and port', async () => {
      const res = await attempts(['--allow', `${HOSTS.other4}/32:80`], [
        tcp(HOSTS.other4, 80),
        tcp(HOSTS.other4, 443),
        tcp(HOSTS.other4, 8080),
        udp(HOSTS.other4),
        tcp(HOSTS.public4, 80),
        tcp(HOSTS.public6, 80),
        tcp(HOSTS.private10, 80),
      ]);
      expectReached(res[0], worldBody(HOSTS.other4, 80));
      for (const r of res.slice(1)) {
        expectFailed(r);
        expectNotLab(r);
      }
      expectRefusedAtOnce(res[6]);
    });

    it('--allow public.test: through the proxy jail sets in the environment, public.test works and other.test is refused; a direct connection fails', async () => {
      const env = await jail(['--allow', 'public.test'], ['/usr/bin/env']);
      expect(env.code, env.stderr).toBe(0);
      expect(env.stdout).toMatch(/^(HTTP_PROXY|http_proxy)=/m);
      const res = await attempts(['--allow', 'public.test'], [
        ['http', 'http://public.test/'],
        ['http', 'http://other.test/'],
        ['http', `http://${HOSTS.other4}/`],
        ['connect-proxy', 'https://public.test:443/'],
        ['connect-proxy', 'https://other.test:443/'],
        tcp(HOSTS.public4, 80),
        tcp('public.test', 80),
        udp(HOSTS.public4),
      ]);
      expect(res[0]).toMatchObject({ ok: true, status: 200, body: worldBody(HOSTS.public4, 80) });
      for (const r of [res[1], res[2]]) {
        expectFailed(r);
        expect(`${r.body ?? ''}`).not.toContain('hello from');
      }
      expect(res[3]).toMatchObject({ ok: true, body: worldBody(HOSTS.public4, 443) });
      expectFailed(res[4]);
      for (const r of res.slice(5)) {
        expectFailed(r);
        expect(`${r.body ?? ''}`).not.toContain('hello from');
      }
    });

    it('--allow rebind.test is refused: the name resolves to a private address (192.168.1.10)', async () => {
      const res = await attempts(['--allow', 'rebind.test'], [
        ['http', 'http://rebind.test/'],
        ['connect-proxy', 'https://rebind.test:443/'],
        tcp(HOSTS.private192, 80),
      ]);
      for (const r of res) {
        expectFailed(r);
        expect(`${r.body ?? ''}`).not.toContain('hello from');
      }
    });

    it('--events FILE: a net "deny" line for a refused proxy request and an "allow" line for an allowed one', async () => {
      const file = path.join(writableDir('events'), 'events.jsonl');
      const res = await attempts(['--allow', 'public.test', '--events', file], [
        ['http', 'http://public.test/'],
        ['http', 'http://other.test/'],
      ]);
      expectReached(res[0], worldBody(HOSTS.public4, 80));
      expectFailed(res[1]);
      const lines = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ProbeOut);
      const net = lines.filter((e) => e.type === 'net');
      const allow = net.filter((e) => e.action === 'allow');
      const deny = net.filter((e) => e.action === 'deny');
      expect(allow.length, JSON.stringify(net)).toBeGreaterThan(0);
      expect(deny.length, JSON.stringify(net)).toBeGreaterThan(0);
      expect(JSON.stringify(allow)).toContain('public.test');
      expect(JSON.stringify(deny)).toContain('other.test');
      expect(JSON.stringify(allow)).not.toContain('other.test');
    });

    it('--events with --net internet: each connection the rules let out or stop is an event naming the rule, and the report counts them', async () => {
      const dir = writableDir('routed-events');
      const events = path.join(dir, 'events.jsonl');
      const report = path.join(dir, 'report.json');
      const res = await attempts(['--net', 'internet', '--events', events, '--report-file', report], [
        tcp(HOSTS.public4, 80),
        tcp(HOSTS.private10, 80),
        tcp(`::ffff:${HOSTS.private10}`, 80),
        udp(HOSTS.metadata),
      ]);
      expectReached(res[0], worldBody(HOSTS.public4, 80));
      for (const r of res.slice(1)) expectRefusedAtOnce(r);
      const net = fs.readFileSync(events, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeOut).filter((e) => e.type === 'net');
      // The batch runs its attempts at once, so the lines come in any order.
      const byText = (a: ProbeOut, b: ProbeOut) => JSON.stringify(a).localeCompare(JSON.stringify(b));
      expect([...net].sort(byText)).toEqual([
        { type: 'net', action: 'allow', proto: 'tcp', dst: HOSTS.public4, port: 80, rule: 'internet' },
        { type: 'net', action: 'deny', proto: 'tcp', dst: HOSTS.private10, port: 80, rule: 'private-10' },
        { type: 'net', action: 'deny', proto: 'tcp', dst: HOSTS.private10, port: 80, rule: 'private-10' },
        { type: 'net', action: 'deny', proto: 'udp', dst: HOSTS.metadata, port: UDP_PORT, rule: 'link-local' },
      ].sort(byText));
      expect(JSON.parse(fs.readFileSync(report, 'utf8')).network).toEqual({ allowed: 1, denied: 3 });
    });

    it('--publish HOSTPORT:JAILPORT (tcp) and /udp: a server in the jail is reachable from the lab at 127.0.0.1', async () => {
      const tcpPort = portBase;
      const udpPort = portBase + 2;
      const web = L().spawn(jailArgv(['--publish', `${tcpPort}:8000`], [PYTHON, probePy, 'serve-http', '8000']), { user: mode, as: who(), timeoutMs: 40_000 });
      // UDP on the same port both sides: Debian 12's pasta (2023-03) does not translate the port of
      // UDP replies, so HOSTPORT != JAILPORT works for TCP only there (README, Networking).
      const echo = L().spawn(jailArgv(['--publish', `${udpPort}:${udpPort}/udp`], [PYTHON, probePy, 'serve-udp', String(udpPort)]), { user: mode, as: who(), timeoutMs: 40_000 });
      try {
        await web.waitForOutput(/"ready"/, 15_000);
        await echo.waitForOutput(/"ready"/, 15_000);
        // The forward may be set up a moment after the server is: poll, bounded in count and time.
        let got: ProbeOut = {};
        let gotUdp: ProbeOut = {};
        const deadline = Date.now() + 10_000;
        for (let i = 0; i < 20 && !(got.ok && gotUdp.ok) && Date.now() < deadline; i++) {
          const out = parseLast(await L().run([PYTHON, PROBE_PY, 'batch', JSON.stringify([['http', `http://127.0.0.1:${tcpPort}/`], ['udp', '127.0.0.1', String(udpPort)]])], { timeoutMs: 15_000 }));
          [got, gotUdp] = out.results as ProbeOut[];
          if (!(got.ok && gotUdp.ok)) await new Promise((r) => setTimeout(r, 250));
        }
        expect(got).toMatchObject({ ok: true, status: 200, body: 'hello from jail 8000' });
        expect(gotUdp).toMatchObject({ ok: true });
        expect(gotUdp.body).toContain(`hello from jail ${udpPort}`);
        // Only the published port: the jail's port itself is not open in the lab.
        const direct = parseLast(await L().run([PYTHON, PROBE_PY, 'tcp', '127.0.0.1', '8000'], { timeoutMs: 15_000 }));
        expect(direct).toMatchObject({ ok: false, errno: 'ECONNREFUSED' });
      } finally {
        web.kill();
        echo.kill();
        await Promise.all([web.exited, echo.exited]);
      }
    });

    /** A sandbox.cfg (nsjail's fields) in a file the jail's user can read; jail runs with --config FILE. */
    const withConfig = (name: string, text: string): string[] => {
      const file = path.join(writableDir(name), 'sandbox.cfg');
      fs.writeFileSync(file, text, { mode: 0o644 });
      return ['--config', file];
    };

    it("nsjail's user_net with traffic_rule: DROP fails at once (EINVAL, a blackhole route), REJECT is unreachable, a later ALLOW wins, as nsjail adds them", async () => {
      const cfg = withConfig('traffic', [
        'user_net { }',
        'traffic_rule { proto: TCP dport: 80 action: DROP }',
        'traffic_rule { proto: TCP dport: 443 action: REJECT }',
        'traffic_rule { proto: TCP dport: 8080 action: REJECT }',
        'traffic_rule { proto: TCP dport: 8080 action: ALLOW }',
        'traffic_rule { ip_family: IPV6 proto: UDP action: DROP }',
      ].join('\n'));
      const [drop80, reject443, allowed8080, udp6, udp4] = await attempts(cfg, [tcp(HOSTS.public4, 80), tcp(HOSTS.public4, 443), tcp(HOSTS.public4, 8080), udp(HOSTS.public6), udp(HOSTS.public4)]);
      expect(drop80).toMatchObject({ ok: false, errno: 'EINVAL' });
      expect(drop80.ms).toBeLessThan(AT_ONCE_MS);
      expect(reject443).toMatchObject({ ok: false, errno: 'ENETUNREACH' });
      expectReached(allowed8080, worldBody(HOSTS.public4, 8080));
      expect(udp6).toMatchObject({ ok: false, errno: 'EINVAL' });
      expectReached(udp4);
    });

    it("nsjail's user_net keeps jail's blocklist and takes its addresses and IPv4/IPv6 switches", async () => {
      const cfg = withConfig('usernet', ['user_net {', '  ip4: "10.200.0.2"', '  gw4: "10.200.0.1"', '  pasta { ip6_enabled: false }', '}'].join('\n'));
      const [pub4, pub6, priv] = await attempts(cfg, [tcp(HOSTS.public4, 80), tcp(HOSTS.public6, 80), tcp(HOSTS.private10, 80)]);
      expectReached(pub4, worldBody(HOSTS.public4, 80));
      expectFailed(pub6);
      expectRefusedAtOnce(priv);
      const shown = await jail(cfg, ['/usr/sbin/ip', '-o', 'addr', 'show', 'eth0']);
      expect(shown.stdout).toContain('inet 10.200.0.2/24');
      expect(shown.stdout).not.toContain('inet6 fc00::2');
    });

    it("a jail whose pasta dies is killed, and says why", async () => {
      const marker = mode === 'root' ? '71' : '72';
      const proc = L().spawn(jailArgv(['--net', 'internet'], ['/bin/sleep', marker]), { user: mode, as: who(), timeoutMs: 30_000 });
      try {
        await waitFor('the jail', () => sleeper(marker), 10_000);
        const [cli] = cliFor(marker);
        const [pasta] = await waitFor('its pasta', () => pastaOf(cli), 10_000);
        process.kill(pasta, 'SIGKILL');
        const r = await proc.exited;
        expect(r.code, r.stderr).toBe(137);
        expect(r.stderr).toMatch(/network link \(pasta\) killed by SIGKILL: killing the jail/);
        expect(sleeper(marker)).toEqual([]);
      } finally {
        proc.kill();
        await proc.exited;
      }
    });

    it('SIGKILL of the supervisor takes the jail and its pasta along', async () => {
      const marker = mode === 'root' ? '73' : '74';
      const proc = L().spawn(jailArgv(['--net', 'internet'], ['/bin/sleep', marker]), { user: mode, as: who(), timeoutMs: 30_000 });
      try {
        await waitFor('the jail', () => sleeper(marker), 10_000);
        const [cli] = cliFor(marker);
        expect(cli, 'the jail CLI process').toBeGreaterThan(0);
        const [pasta] = await waitFor('its pasta', () => pastaOf(cli), 10_000);
        process.kill(cli, 'SIGKILL');
        const alive = () => [pasta, ...sleeper(marker)].filter((pid) => hostProcesses().some((p) => p.pid === pid && p.state !== 'Z'));
        const gone = Date.now() + 2000;
        while (Date.now() < gone && alive().length > 0) await new Promise((r) => setTimeout(r, 50));
        expect(alive()).toEqual([]);
      } finally {
        proc.kill();
        await proc.exited;
      }
    });

    it('the jail cannot change its rules or routes (EPERM) and a blocked host stays unreachable', async () => {
      const script = [
        '/usr/sbin/ip rule flush; echo "rule4=$?"',
        '/usr/sbin/ip -6 rule flush; echo "rule6=$?"',
        '/usr/sbin/ip route add 10.0.0.0/8 dev lo; echo "route=$?"',
        '/usr/sbin/ip route replace default dev lo; echo "default=$?"',
        `exec ${PYTHON} ${probePy} batch '${JSON.stringify([
          ['tcp', HOSTS.private10, '80'],
          ['udp', HOSTS.metadata, String(UDP_PORT)],
          ['tcp', HOSTS.ula6, '80'],
        ])}'`,
      ].join('\n');
      const r = await jail(['--net', 'internet'], ['/bin/sh', '-c', script]);
      for (const step of ['rule4', 'rule6', 'route', 'default']) expect(r.stdout, r.stderr).toMatch(new RegExp(`^${step}=[1-9]`, 'm'));
      expect(r.stderr).toContain('Operation not permitted');
      const out = parseLast(r);
      for (const res of out.results as ProbeOut[]) expectRefusedAtOnce(res);
    });
  });
});
