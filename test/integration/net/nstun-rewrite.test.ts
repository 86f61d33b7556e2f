/**
 * nsjail's user_net REDIRECT, ENCAP_CONNECT and ENCAP_SOCKS5 rules (outbound), against the lab
 * (lab.ts): a jail connects to a world address and the connection lands on a REDIRECT target on
 * the lab's loopback (the supervisor's host side), or goes through an HTTP CONNECT proxy or a
 * SOCKS5 server there (nstun-proxies.py), which log the original destination they were asked
 * for. Root and rootless (an unprivileged test user, through the lab's tun wrapper). Also: the
 * program cannot remove the nat table, blocked ranges stay blocked, nft missing stops the jail
 * before the program runs, and nothing is left behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIf } from '../../helpers/env';
import { unprivilegedUser } from '../unprivileged-user';
import { REPO } from '../core/helpers';
import { HOSTS, NET_DIR, PROBE_PY, PYTHON, UDP_PORT, worldBody, type LabProcess } from './lab';
import { labReason, parseLast, processesWhere, useLab, waitFor, type ProbeOut } from './net-helpers';

const PROXIES_PY = path.join(NET_DIR, 'nstun-proxies.py');

type Op = (string | number)[];

/** Public-looking addresses no lab host answers (pings to them time out unless a rule answers). */
const SILENT4 = '198.51.100.99';
const SILENT6 = '2001:db8:2::99';
const UNANSWERED4 = '198.51.100.98';

const userNetOf = (...rules: string[]) => `user_net {\n${rules.map((r) => `  ${r}\n`).join('')}}\n`;

/** One ICMP echo over a raw socket (root): prints "reply" or "no reply" within 2 s. */
const PING_PY = `
import os, socket, struct, sys, time
addr = sys.argv[1]
v6 = ':' in addr
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
def csum(b):
    b += b'\\0' * (len(b) % 2)
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
kind = 128 if v6 else 8
body = struct.pack('!BBHHH', kind, 0, 0, ident, 1) + b'jail'
if not v6:
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
s.sendto(body, (addr, 0))
s.settimeout(0.2)
deadline = time.time() + 2
while time.time() < deadline:
    try:
        data, src = s.recvfrom(2048)
    except socket.timeout:
        continue
    icmp = data if v6 else data[(data[0] & 15) * 4:]
    if icmp[0] == (129 if v6 else 0) and struct.unpack('!H', icmp[4:6])[0] == ident and src[0] == addr:
        print('reply'); sys.exit(0)
print('no reply')
`;

/** Connects to every listener on the jail's 127.0.0.1 and prints what each answered. */
const DIRECT_PY = `
import json, socket
ports = []
for line in open('/proc/net/tcp').readlines()[1:]:
    f = line.split()
    if f[3] == '0A' and f[1].startswith('0100007F'):
        ports.append(int(f[1].split(':')[1], 16))
answers = []
for p in ports:
    try:
        s = socket.create_connection(('127.0.0.1', p), timeout=3)
        s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')
        answers.append(s.recv(200).decode(errors='replace'))
    except OSError as e:
        answers.append(repr(e))
print('DIRECT ' + json.dumps({'ports': len(ports), 'answers': answers}))
`;

describeIf('net: nsjail user_net REDIRECT / ENCAP_CONNECT / ENCAP_SOCKS5 in the lab', labReason(), () => {
  const fixture = unprivilegedUser('jail-it-nstun');
  const { L } = useLab();
  let probePy = PROBE_PY;
  let proxies: LabProcess;
  let target: LabProcess;
  const REDIRECT_PORT = 18300;
  const HTTP_PROXY_PORT = 18301;
  const SOCKS_PORT = 18302;

  beforeAll(async () => {
    // The probe where every jail user can read it (the checkout may be under /root).
    probePy = path.join(fixture().dir, 'probe.py');
    fs.copyFileSync(PROBE_PY, probePy);
    fs.chmodSync(probePy, 0o644);
    target = await L().startServer('redirect', ['127.0.0.1', '::1'], [REDIRECT_PORT], [REDIRECT_PORT], 'lab');
    proxies = L().spawn([PYTHON, PROXIES_PY, String(HTTP_PROXY_PORT), String(SOCKS_PORT)], { timeoutMs: 600_000 });
    await proxies.waitForOutput(/^ready$/m, 10_000);
  });
  afterAll(() => {
    proxies?.kill();
    target?.kill();
  });

  const config = `
user_net {
  rule4 { proto: TCP dst_ip: "${HOSTS.public4}" dport: 80 action: REDIRECT redirect_ip: "127.0.0.1" redirect_port: ${REDIRECT_PORT} }
  rule4 { proto: UDP dst_ip: "${HOSTS.public4}" action: REDIRECT redirect_ip: "127.0.0.1" redirect_port: ${REDIRECT_PORT} }
  rule6 { proto: TCP dst_ip: "${HOSTS.public6}" dport: 80 action: REDIRECT redirect_ip: "::1" redirect_port: ${REDIRECT_PORT} }
  rule4 { proto: TCP dport: 443 action: ENCAP_CONNECT redirect_ip: "127.0.0.1" redirect_port: ${HTTP_PROXY_PORT} }
  rule6 { proto: TCP dport: 443 action: ENCAP_CONNECT redirect_ip: "127.0.0.1" redirect_port: ${HTTP_PROXY_PORT} }
  rule4 { proto: TCP dst_ip: "${HOSTS.other4}" dport: 8080 action: DROP }
  rule4 { proto: TCP dport: 8080 action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: ${SOCKS_PORT} }
  rule4 { proto: UDP dst_ip: "${HOSTS.other4}" action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: ${SOCKS_PORT} }
  rule4 { proto: TCP dport: 81 action: REDIRECT redirect_ip: "127.0.0.1" redirect_port: ${REDIRECT_PORT} }
  rule6 { proto: UDP dst_ip: "${HOSTS.public6}" action: REDIRECT redirect_ip: "::1" redirect_port: ${REDIRECT_PORT} }
  rule6 { proto: TCP dport: 8080 action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: ${SOCKS_PORT} }
}
`;

  describe.each(['root', 'rootless'] as const)('as %s', (mode) => {
    const who = () => ({ uid: fixture().user.uid, gid: fixture().user.gid });
    const jailBin = () => (mode === 'root' ? path.join(REPO, 'bin', 'jail') : path.join(fixture().jailRoot, 'bin', 'jail'));
    const writableDir = (name: string) => {
      const d = path.join(L().dir, `${mode}-${name}-${Date.now()}`);
      fs.mkdirSync(d, { mode: 0o755 });
      if (mode === 'rootless') fs.chownSync(d, who().uid, who().gid);
      return d;
    };
    const configFile = (dir: string, text = config) => {
      const f = path.join(dir, 'nstun.cfg');
      fs.writeFileSync(f, text, { mode: 0o644 });
      return f;
    };
    const jail = (flags: string[], command: string[], env?: NodeJS.ProcessEnv) =>
      L().run([process.execPath, jailBin(), '-q', '--chroot', '/', '-t', '30', ...flags, '--', ...command], { user: mode, as: who(), timeoutMs: 40_000, env });
    const attempts = async (flags: string[], ops: Op[]): Promise<ProbeOut[]> => {
      const out = parseLast(await jail(flags, [PYTHON, probePy, 'batch', JSON.stringify(ops.map((o) => o.map(String)))]));
      expect(out.results, JSON.stringify(out)).toHaveLength(ops.length);
      return out.results as ProbeOut[];
    };
    const body = (r: ProbeOut) => `${r.body ?? ''}`;

    it('connections land on the REDIRECT target, the HTTP CONNECT proxy and the SOCKS5 server, which are asked for the original destination; blocked ranges stay blocked; each is an event', async () => {
      const dir = writableDir('rewrite');
      const events = path.join(dir, 'events.jsonl');
      const report = path.join(dir, 'report.json');
      const logBefore = proxies.stdout().length;
      const res = await attempts(['--config', configFile(dir), '--events', events, '--report-file', report], [
        ['tcp', HOSTS.public4, 80],
        ['udp', HOSTS.public4, UDP_PORT],
        ['tcp', HOSTS.public6, 80],
        ['tcp', HOSTS.public4, 443],
        ['tcp', HOSTS.public6, 443],
        ['tcp', HOSTS.other4, 8080], // DROP comes before the SOCKS5 rule for 8080: first match wins
        ['tcp', HOSTS.public4, 8080],
        ['udp', HOSTS.other4, UDP_PORT],
        ['tcp', HOSTS.private10, 81], // the rule matches, but 10/8 is blocked before any rewrite
        ['tcp', HOSTS.other4, 80], // no rule: straight out
        ['udp', HOSTS.public6, UDP_PORT],
        ['tcp', HOSTS.public6, 8080],
      ]);
      const [redirect4, redirectUdp, redirect6, connect4, connect6, dropped, socks, socksUdp, blocked, plain, redirectUdp6, socks6] = res;
      expect(body(redirect4), JSON.stringify(redirect4)).toContain(`hello from redirect 127.0.0.1:${REDIRECT_PORT}`);
      expect(body(redirectUdp), JSON.stringify(redirectUdp)).toContain(`hello from redirect 127.0.0.1:${REDIRECT_PORT}`);
      expect(body(redirect6), JSON.stringify(redirect6)).toContain(`hello from redirect [::1]:${REDIRECT_PORT}`);
      expect(body(connect4), JSON.stringify(connect4)).toContain(worldBody(HOSTS.public4, 443));
      expect(body(connect6), JSON.stringify(connect6)).toContain(worldBody(HOSTS.public6, 443));
      expect(dropped.ok, JSON.stringify(dropped)).toBe(false);
      expect(body(socks), JSON.stringify(socks)).toContain(worldBody(HOSTS.public4, 8080));
      expect(body(socksUdp), JSON.stringify(socksUdp)).toContain(worldBody(HOSTS.other4, UDP_PORT));
      expect(blocked, JSON.stringify(blocked)).toMatchObject({ ok: false, errno: 'ENETUNREACH' });
      expect(body(plain), JSON.stringify(plain)).toContain(worldBody(HOSTS.other4, 80));
      expect(body(redirectUdp6), JSON.stringify(redirectUdp6)).toContain(`hello from redirect [::1]:${REDIRECT_PORT}`);
      expect(body(socks6), JSON.stringify(socks6)).toContain(worldBody(HOSTS.public6, 8080));
      const log = proxies.stdout().slice(logBefore);
      expect(log).toContain(`CONNECT ${HOSTS.public4}:443 HTTP/1.1`);
      expect(log).toContain(`CONNECT [${HOSTS.public6}]:443 HTTP/1.1`);
      expect(log).toContain(`SOCKS5 CONNECT ${HOSTS.public4} 8080`);
      expect(log).toContain(`SOCKS5 UDP ${HOSTS.other4} ${UDP_PORT}`);
      expect(log).toContain(`SOCKS5 CONNECT ${HOSTS.public6} 8080`);
      expect(log).not.toContain(HOSTS.private10);
      // One event per connection (per datagram for UDP sendto), named after the rule that rewrote it.
      const net = fs.readFileSync(events, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeOut).filter((e) => e.type === 'net');
      expect(net.map((e) => `${e.action} ${e.rule} ${e.proto} ${e.dst}:${e.port}`).sort()).toEqual(
        [
          `allow user_net.rule4[0] tcp ${HOSTS.public4}:80`,
          `allow user_net.rule4[1] udp ${HOSTS.public4}:${UDP_PORT}`,
          `allow user_net.rule6[0] tcp ${HOSTS.public6}:80`,
          `allow user_net.rule4[2] tcp ${HOSTS.public4}:443`,
          `allow user_net.rule6[1] tcp ${HOSTS.public6}:443`,
          `deny user_net.rule4[3] tcp ${HOSTS.other4}:8080`,
          `allow user_net.rule4[4] tcp ${HOSTS.public4}:8080`,
          `allow user_net.rule4[5] udp ${HOSTS.other4}:${UDP_PORT}`,
          `deny private-10 tcp ${HOSTS.private10}:81`,
          `allow internet tcp ${HOSTS.other4}:80`,
          `allow user_net.rule6[2] udp ${HOSTS.public6}:${UDP_PORT}`,
          `allow user_net.rule6[3] tcp ${HOSTS.public6}:8080`,
        ].sort(),
      );
      expect(JSON.parse(fs.readFileSync(report, 'utf8')).network).toEqual({ allowed: 10, denied: 2 });
      // Nothing left behind: no nft helper, no jail CLI of this run (its listeners went with it).
      expect(processesWhere((argv) => argv[0].endsWith('/nft') || argv.some((a) => a.startsWith(dir)))).toEqual([]);
    });

    it('the program cannot remove or change the nat table (no CAP_NET_ADMIN), nor use the listeners directly; the rules still apply after', async () => {
      const dir = writableDir('nft');
      // The listeners are visible in the jail's /proc/net/tcp; connecting to one directly must
      // get nothing forwarded (the "original destination" would be the jail's own loopback).
      fs.writeFileSync(path.join(dir, 'direct.py'), DIRECT_PY, { mode: 0o644 });
      const script = [
        '/usr/sbin/nft flush ruleset; echo "flush=$?"',
        '/usr/sbin/nft delete table inet jail_user_net; echo "delete=$?"',
        `${PYTHON} ${path.join(dir, 'direct.py')}`,
        `${PYTHON} ${probePy} tcp ${HOSTS.public4} 80`,
      ].join('; ');
      const r = await jail(['--config', configFile(dir)], ['/bin/sh', '-c', script]);
      expect(r.stdout).toMatch(/flush=[1-9]/);
      expect(r.stdout).toMatch(/delete=[1-9]/);
      const direct = JSON.parse(/^DIRECT (.*)$/m.exec(r.stdout)?.[1] ?? 'null') as { ports: number; answers: string[] } | null;
      expect(direct, r.stdout).not.toBeNull();
      expect(direct!.ports).toBeGreaterThan(0);
      for (const a of direct!.answers) expect(a).not.toContain('hello');
      expect(body(parseLast(r))).toContain(`hello from redirect 127.0.0.1:${REDIRECT_PORT}`);
    });

    it("ICMP REDIRECT: an echo to an address nothing answers is answered (by the jail's loopback), v4 and v6; without a rule it is not", async () => {
      const dir = writableDir('icmp');
      const cfg = configFile(
        dir,
        userNetOf(
          `rule4 { proto: ICMP dst_ip: "${SILENT4}" action: REDIRECT redirect_ip: "127.0.0.2" }`,
          `rule6 { proto: ICMP dst_ip: "${SILENT6}" action: REDIRECT redirect_ip: "::1" }`,
        ),
      );
      // The program cannot ping (no CAP_NET_RAW, no ping group): root pings from inside the
      // jail's network namespace instead, through the same routing rules and nat table.
      const marker = mode === 'root' ? '81' : '82';
      const sleeping = L().spawn([process.execPath, jailBin(), '-q', '--chroot', '/', '-t', '30', '--config', cfg, '--', '/bin/sleep', marker], { user: mode, as: who(), timeoutMs: 40_000 });
      try {
        const [pid] = await waitFor('the jail', () => processesWhere((a) => a[0] === '/bin/sleep' && a[1] === marker), 10_000);
        // The jail runs once its gate opened, so the table is in place by now.
        const ping = (addr: string) => L().run(['/usr/bin/nsenter', '-t', String(pid), '-n', PYTHON, '-c', PING_PY, addr], { timeoutMs: 10_000 });
        for (const addr of [SILENT4, SILENT6]) expect((await ping(addr)).stdout, addr).toContain('reply');
        expect((await ping(UNANSWERED4)).stdout).toContain('no reply');
      } finally {
        sleeping.kill();
        await sleeping.exited;
      }
    });

    it('nft missing: the jail stops before the program runs, with an error naming nftables', async () => {
      const dir = writableDir('no-nft');
      const marker = path.join(dir, 'ran');
      const r = await jail(['--config', configFile(dir)], ['/bin/sh', '-c', `touch ${marker}`], { PATH: '/usr/bin:/bin', HOME: '/', JAIL_NFT: '/nonexistent/nft' });
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(/nft/);
      expect(r.stderr).toMatch(/install nftables/);
      expect(fs.existsSync(marker)).toBe(false);
    });
  });
});
