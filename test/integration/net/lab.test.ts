/**
 * Control tests of the network lab (lab.ts), without jail: they prove that the world the net
 * tests build really works — every test host answers over TCP and UDP, v4 and v6, from the lab
 * namespace; dnsmasq gives its static answers on its private address and getaddrinfo in the lab
 * uses it; the lab's own services answer on its address and loopback; the rootless wrapper gives
 * an unprivileged user a usable /dev/net/tun without changing the host's; the probe tells
 * 'refused at once' from 'reached' — and that the host's own network namespace is never touched
 * and nothing is left after teardown.
 *
 * If these fail, a failing presets.test.ts says nothing about jail.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { describeIf } from '../../helpers/env';
import {
  BLOCKED_HOSTS,
  createLab,
  DNS_NAMES,
  DNS_QUERY_PY,
  HOSTS,
  hostNetSnapshot,
  LAB_BODY_PREFIX,
  LAB_TCP_PORTS,
  netnsList,
  PROBE_PY,
  PUBLIC_HOSTS,
  PYTHON,
  TCP_PORTS,
  UDP_PORT,
  worldBody,
  type Lab,
} from './lab';
import { labReason, parseLast, useLab, type ProbeOut } from './net-helpers';

describeIf('net lab: control checks without jail', labReason(), () => {
  const { L, hostBefore } = useLab();

  const probe = async (args: (string | number)[], opts: Parameters<Lab['run']>[1] = {}): Promise<ProbeOut> => {
    const r = await L().run([PYTHON, PROBE_PY, ...args.map(String)], { timeoutMs: 30_000, ...opts });
    return parseLast(r);
  };

  it('every world host answers HTTP on 80, 443 and 8080 and echoes UDP, from the lab namespace', async () => {
    const ops: string[][] = [];
    for (const name of [...PUBLIC_HOSTS, ...BLOCKED_HOSTS]) {
      for (const port of TCP_PORTS) ops.push(['tcp', HOSTS[name], String(port)]);
      ops.push(['udp', HOSTS[name], String(UDP_PORT)]);
    }
    const out = await probe(['batch', JSON.stringify(ops)]);
    for (const r of out.results as ProbeOut[]) {
      const [kind, host, port] = r.op as string[];
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.body).toContain(worldBody(host, Number(port)));
      if (kind === 'udp') expect(r.body).toContain('ping');
    }
  });

  it('the world answers plain HTTP through urllib too, and a v4-mapped address goes over v4', async () => {
    const out = await probe(['batch', JSON.stringify([['http', `http://${HOSTS.public4}/`], ['http', `http://[${HOSTS.public6}]:8080/`], ['tcp', `::ffff:${HOSTS.private10}`, '80']])]);
    const [a, b, c] = out.results as ProbeOut[];
    expect(a).toMatchObject({ ok: true, status: 200, body: worldBody(HOSTS.public4, 80) });
    expect(b).toMatchObject({ ok: true, status: 200, body: worldBody(HOSTS.public6, 8080) });
    // The server sees the connection on its v4 socket (the mapped form is only the client's view).
    expect(c).toMatchObject({ ok: true, body: worldBody(HOSTS.private10, 80) });
  });

  it('the lab routes every blocked range (and the default) into the world', () => {
    const routes4 = execFileSync('ip', ['-n', L().labNs, 'route', 'show'], { encoding: 'utf8' });
    const routes6 = execFileSync('ip', ['-n', L().labNs, '-6', 'route', 'show'], { encoding: 'utf8' });
    for (const r of ['default via 198.51.100.1', '10.0.0.0/8 via', '172.16.0.0/12 via', '192.168.0.0/16 via', '100.64.0.0/10 via', '169.254.0.0/16 via']) expect(routes4).toContain(r);
    for (const r of ['default via 2001:db8:1::1', 'fc00::/7 via']) expect(routes6).toContain(r);
    // And nothing but the world: the only non-loopback link is the veth.
    const links = (JSON.parse(execFileSync('ip', ['-n', L().labNs, '-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>).map((l) => l.ifname);
    expect(links.sort()).toEqual([L().vethLab, 'lo'].sort());
  });

  it('dnsmasq on the private address gives its static answers; unknown names are NXDOMAIN', async () => {
    for (const [name, addr] of Object.entries(DNS_NAMES)) {
      const r = await L().run([PYTHON, '-c', DNS_QUERY_PY, L().dns, name, addr.includes(':') ? 'AAAA' : 'A'], { timeoutMs: 10_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(['rcode 0', addr]);
    }
    const nx = await L().run([PYTHON, '-c', DNS_QUERY_PY, L().dns, 'nothing.test'], { timeoutMs: 10_000 });
    expect(nx.stdout.trim()).toBe('rcode 3');
    // A v4-only name has no AAAA answer (so getaddrinfo gives its v4 address only).
    const aaaa = await L().run([PYTHON, '-c', DNS_QUERY_PY, L().dns, 'public.test', 'AAAA'], { timeoutMs: 10_000 });
    expect(aaaa.stdout.trim()).toBe('rcode 0');
    expect(L().dnsLog()).toContain('public.test');
  });

  it("getaddrinfo in the lab uses the lab's resolv.conf (the private resolver), as root and as a user", async () => {
    for (const user of ['root', 'rootless'] as const) {
      const out = await probe(['batch', JSON.stringify([['dns', 'public.test'], ['dns', 'public6.test'], ['dns', 'rebind.test'], ['tcp', 'public.test', '80']])], { user });
      const [a, b, c, d] = out.results as ProbeOut[];
      expect(a, user).toMatchObject({ ok: true, addrs: [HOSTS.public4] });
      expect(b, user).toMatchObject({ ok: true, addrs: [HOSTS.public6] });
      expect(c, user).toMatchObject({ ok: true, addrs: [HOSTS.private192] });
      expect(d, user).toMatchObject({ ok: true, body: worldBody(HOSTS.public4, 80) });
    }
    const resolv = await L().run(['cat', '/etc/resolv.conf']);
    expect(resolv.stdout).toContain(`nameserver ${L().dns}`);
    // ...only for commands in the lab: the host's file is its own.
    expect(fs.readFileSync('/etc/resolv.conf', 'utf8')).not.toContain(L().dns);
  });

  it("the lab's own services answer on its veth addresses and its loopback", async () => {
    const ops: string[][] = [];
    for (const addr of [L().labAddress, L().labAddress6, '127.0.0.1', '::1']) {
      for (const port of LAB_TCP_PORTS) ops.push(['tcp', addr, String(port)]);
      ops.push(['udp', addr, String(UDP_PORT)]);
    }
    const out = await probe(['batch', JSON.stringify(ops)]);
    for (const r of out.results as ProbeOut[]) {
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.body).toContain(LAB_BODY_PREFIX);
    }
    // The world's gateway address has no service: a connection there is refused, not answered.
    const gw = await probe(['tcp', L().gateway, 80]);
    expect(gw).toMatchObject({ ok: false, errno: 'ECONNREFUSED' });
  });

  it('a throw-away server can be started in the lab and is gone once killed', async () => {
    const s = await L().startServer('extra', ['127.0.0.1'], [18999], []);
    expect(await probe(['tcp', '127.0.0.1', 18999])).toMatchObject({ ok: true, body: 'hello from extra 127.0.0.1:18999' });
    s.kill();
    await s.exited;
    expect(await probe(['tcp', '127.0.0.1', 18999])).toMatchObject({ ok: false, errno: 'ECONNREFUSED' });
  });

  it('the probe tells refused-at-once (ENETUNREACH by an unreachable rule, ECONNREFUSED) from reached', async () => {
    // In a private namespace of its own (unshare -n, under the lab): a route to everything, and
    // an `unreachable` rule for 10/8 — the kind of rule jail uses; connect fails at once.
    const script = [
      'ip link set lo up',
      'ip route add default dev lo',
      'ip rule add to 10.0.0.0/8 unreachable pref 100',
      `exec ${PYTHON} ${PROBE_PY} batch '${JSON.stringify([
        ['tcp', HOSTS.private10, '80'],
        ['udp', HOSTS.private10, String(UDP_PORT)],
      ])}'`,
    ].join('\n');
    const r = await L().run(['unshare', '-n', 'sh', '-ec', script], { timeoutMs: 20_000 });
    const out = parseLast(r);
    for (const res of out.results as ProbeOut[]) {
      expect(res, JSON.stringify(res)).toMatchObject({ ok: false, errno: 'ENETUNREACH' });
      expect(res.ms).toBeLessThan(1000);
    }
    // No namespace at all (only a down loopback): also ENETUNREACH at once.
    const none = parseLast(await L().run(['unshare', '-n', PYTHON, PROBE_PY, 'tcp', HOSTS.public4, '80']));
    expect(none).toMatchObject({ ok: false, errno: 'ENETUNREACH' });
    expect(none.ms).toBeLessThan(1000);
    // A closed port of a world host: refused at once by the world.
    const closed = await probe(['tcp', HOSTS.public4, 81]);
    expect(closed).toMatchObject({ ok: false, errno: 'ECONNREFUSED' });
    expect(closed.ms).toBeLessThan(1000);
  });

  it("the rootless wrapper: an unprivileged user without capabilities gets a usable tun node; the host's /dev/net/tun is unchanged", async () => {
    const before = fs.statSync('/dev/net/tun');
    const check = `
import fcntl, json, os, struct
r = {'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups()}
r['capEff'] = [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0]
fd = os.open('/dev/net/tun', os.O_RDWR)
r['tunOpened'] = True
os.close(fd)
print(json.dumps(r))
`;
    const r = await L().run([PYTHON, '-c', check], { user: 'rootless' });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ uid: 65534, gid: 65534, groups: [], capEff: '0000000000000000', tunOpened: true });
    // Without the wrapper, the same user cannot (the reason the wrapper exists).
    const plain = await L().run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', PYTHON, '-c', check]);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain('Permission denied');
    // The host's device and mount table are untouched.
    const after = fs.statSync('/dev/net/tun');
    expect([after.mode, after.uid, after.gid, after.ino, after.rdev]).toEqual([before.mode, before.uid, before.gid, before.ino, before.rdev]);
    expect(after.mode & 0o777).toBe(0o600);
    let findmnt = '';
    try {
      findmnt = execFileSync('findmnt', ['-n', '/dev/net/tun'], { encoding: 'utf8' });
    } catch {
      // exit 1: not a mount point, as expected
    }
    expect(findmnt).toBe('');
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('jail-net-lab-tun');
    expect(fs.readdirSync(`${L().dir}/tun`)).toEqual([]);
    // And a user in the lab reaches the world like root does (plain sockets, no privilege).
    expect(await probe(['tcp', HOSTS.public4, 443], { user: 'rootless' })).toMatchObject({ ok: true, body: worldBody(HOSTS.public4, 443) });
  });

  it('rootless pasta (what jail runs) connects a fresh namespace to the world through the lab; by default it maps the gateway (and its own loopback ports) to the lab loopback', async () => {
    // pasta -f: in the foreground (it would otherwise daemonize and keep our pipes open).
    // Not as root: this pasta version then switches to nobody and cannot set up its namespace.
    const ops = [
      ['tcp', HOSTS.public4, '80'],
      ['udp', HOSTS.public4, String(UDP_PORT)],
      ['tcp', HOSTS.public6, '8080'],
      ['dns', 'public.test'],
      ['tcp', HOSTS.private10, '80'],
      ['tcp', L().gateway, String(LAB_TCP_PORTS[0])],
      ['tcp', '127.0.0.1', String(LAB_TCP_PORTS[1])],
    ];
    const r = await L().run(['pasta', '-f', '-q', '--config-net', '--', PYTHON, PROBE_PY, 'batch', JSON.stringify(ops)], { user: 'rootless', timeoutMs: 20_000 });
    const [a, b, c, d, e, gw, lo] = parseLast(r).results as ProbeOut[];
    expect(a).toMatchObject({ ok: true, body: worldBody(HOSTS.public4, 80) });
    expect(b.body).toContain(worldBody(HOSTS.public4, UDP_PORT));
    expect(c).toMatchObject({ ok: true, body: worldBody(HOSTS.public6, 8080) });
    // DNS to the private resolver works through pasta (nothing blocks it here: no jail rules).
    expect(d).toMatchObject({ ok: true, addrs: [HOSTS.public4] });
    expect(e).toMatchObject({ ok: true, body: worldBody(HOSTS.private10, 80) });
    // pasta's default: the gateway address is the host's loopback. jail must not allow that;
    // this shows the lab's loopback service really catches it.
    expect(gw).toMatchObject({ ok: true, body: `${LAB_BODY_PREFIX} 127.0.0.1:${LAB_TCP_PORTS[0]}` });
    // And its -T auto default forwards the namespace's own loopback ports to ports bound in the
    // lab: another way to the lab's loopback that jail must close.
    expect(lo).toMatchObject({ ok: true, body: `${LAB_BODY_PREFIX} 127.0.0.1:${LAB_TCP_PORTS[1]}` });
  });

  it("nothing leaks into the host's namespace: no lab address, route, rule or link there", () => {
    const now = hostNetSnapshot();
    expect(now).toBe(hostBefore());
    for (const a of [...Object.values(HOSTS), L().labAddress, L().gateway, L().dns]) expect(now).not.toContain(`"${a}/`);
    expect(now).not.toContain(L().id);
  });

  it("a second lab can be created and torn down completely, with processes left running in it; a dead run's lab is swept", async () => {
    const before = hostNetSnapshot();
    // A lab left by a test process that no longer exists (no pid is ever 4194304: pids stay below the largest pid_max, 2^22).
    const deadNs = 'jl4194304x1lab';
    execFileSync('ip', ['netns', 'add', deadNs]);
    const other = await createLab();
    expect(netnsList()).not.toContain(deadNs);
    expect(other.labNs).not.toBe(L().labNs);
    // A stray process in its namespace (as a jail's pasta would be): teardown kills it too.
    const stray = other.spawn(['sleep', '600'], { timeoutMs: 600_000 });
    const strayPid = stray.pid;
    other.destroy();
    await stray.exited;
    expect(other.leftovers()).toEqual([]);
    expect(fs.existsSync(`/proc/${strayPid}/stat`) && !fs.readFileSync(`/proc/${strayPid}/stat`, 'utf8').includes(') Z')).toBe(false);
    expect(netnsList()).not.toContain(other.labNs);
    expect(hostNetSnapshot()).toBe(before);
    // The first lab still works.
    expect(await probe(['tcp', HOSTS.other4, 8080])).toMatchObject({ ok: true, body: worldBody(HOSTS.other4, 8080) });
  });
});
