/**
 * nsjail's macvlan_iface and iface_own against the lab (lab.ts), root only: jail runs in the lab
 * namespace, where the lab's veth (198.51.100.2/24, its peer in the world namespace is the
 * gateway 198.51.100.1) is the MACVLAN's host interface, and throw-away veth pairs made in the lab
 * are the interfaces given away with iface_own. Nothing here touches the machine's own network
 * namespace (the afterAll compares it with a snapshot).
 *
 * What the kernel does with a given-away interface when the jail's namespace dies (checked
 * below): `vs` is destroyed; a veth is destroyed with its peer. (A physical interface would go to
 * the host's *initial* namespace instead, not back to the lab's: not testable in a lab.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeIf } from '../../helpers/env';
import { REPO } from '../core/helpers';
import { HOSTS, PROBE_PY, PYTHON, UDP_PORT, worldBody, type LabResult } from './lab';
import { labReason, parseLast, useLab, type ProbeOut } from './net-helpers';

const JAIL = path.join(REPO, 'bin', 'jail');
const VS_IP = '198.51.100.50';
const VS_MAC = '02:00:00:12:34:56';

/** `ip -j` output lines and the probe's last line, from one jail run. */
function jsonLines(r: LabResult): unknown[] {
  const out: unknown[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!/^[[{]/.test(line)) continue;
    out.push(JSON.parse(line));
  }
  if (out.length === 0) throw new Error(`no JSON (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type IpLink = Record<string, any>;

describeIf('net: macvlan_iface and iface_own against the lab (root)', labReason(), () => {
  const { L } = useLab();
  const jailArgv = (flags: string[], command: string[]) => [process.execPath, JAIL, '-q', '--chroot', '/', '-t', '30', ...flags, '--', ...command];
  const jail = (flags: string[], command: string[]) => L().run(jailArgv(flags, command), { timeoutMs: 40_000 });
  /** The lab namespace's interface names. */
  const labLinks = async () => ((JSON.parse((await L().run(['ip', '-j', 'link', 'show'])).stdout) as IpLink[]).map((l) => l.ifname as string)).sort();
  /** A veth pair in the lab (both ends there), named after the lab. */
  const vethPair = async (tag: string): Promise<[string, string]> => {
    const a = `${L().id}${tag}1`;
    const b = `${L().id}${tag}2`;
    const r = await L().run(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    expect(r.code, r.stderr).toBe(0);
    return [a, b];
  };
  /**
   * The lab's interfaces once none of `gone` is left: the kernel tears a dead namespace down
   * asynchronously (a workqueue), so its interfaces go a little after the jail has ended.
   */
  const labLinksWithout = async (gone: string[]) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const links = await labLinks();
      if (!links.some((l) => gone.includes(l)) || Date.now() > deadline) return links;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const probe = (ops: Array<Array<string | number>>) => `${PYTHON} ${PROBE_PY} batch '${JSON.stringify(ops.map((o) => o.map(String)))}'`;

  it('macvlan: vs with the address, netmask, route, MAC and mode asked for; the gateway and the hosts behind it answer; private ranges too (no blocklist)', async () => {
    const before = await labLinks();
    const flags = ['-I', L().vethLab, '--macvlan_vs_ip', VS_IP, '--macvlan_vs_nm', '255.255.255.0', '--macvlan_vs_gw', L().gateway, '--macvlan_vs_ma', VS_MAC, '--macvlan_vs_mo', 'bridge'];
    const ops = [['tcp', HOSTS.public4, 80], ['udp', HOSTS.public4, UDP_PORT], ['tcp', HOSTS.private192, 80], ['tcp', HOSTS.private10, 8080]];
    const r = await jail(flags, ['/bin/sh', '-c', `ip -j -d addr show dev vs && ip -j -4 route show && ${probe(ops)}`]);
    expect(r.code, r.stderr).toBe(0);
    const [addrs, routes, res] = jsonLines(r) as [IpLink[], IpLink[], ProbeOut];
    const vs = addrs[0];
    expect(vs).toMatchObject({ ifname: 'vs', address: VS_MAC, operstate: 'UP', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } } });
    expect(vs.addr_info.filter((a: IpLink) => a.family === 'inet')).toEqual([expect.objectContaining({ local: VS_IP, prefixlen: 24 })]);
    expect(routes).toContainEqual(expect.objectContaining({ dst: 'default', gateway: L().gateway, dev: 'vs' }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: '198.51.100.0/24', dev: 'vs' }));
    const results = res.results as ProbeOut[];
    expect(results[0], JSON.stringify(results[0])).toMatchObject({ ok: true, body: worldBody(HOSTS.public4, 80) });
    expect(results[1].ok, JSON.stringify(results[1])).toBe(true);
    expect(results[2], JSON.stringify(results[2])).toMatchObject({ ok: true, body: worldBody(HOSTS.private192, 80) });
    expect(results[3], JSON.stringify(results[3])).toMatchObject({ ok: true, body: worldBody(HOSTS.private10, 8080) });
    // vs lived in the jail's namespace only.
    expect(await labLinks()).toEqual(before);
  });

  it("macvlan with nsjail's defaults but the address 0.0.0.0: vs exists in private mode, down, without an IPv4 address or route", async () => {
    const r = await jail(['-I', L().vethLab, '--macvlan_vs_ip', '0.0.0.0'], ['/bin/sh', '-c', 'ip -j -d addr show dev vs && ip -j -4 route show']);
    expect(r.code, r.stderr).toBe(0);
    const [addrs, routes] = jsonLines(r) as [IpLink[], IpLink[]];
    expect(addrs[0]).toMatchObject({ ifname: 'vs', operstate: 'DOWN', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'private' } } });
    expect(addrs[0].flags).not.toContain('UP');
    expect((addrs[0].addr_info as IpLink[]).filter((a) => a.family === 'inet')).toEqual([]);
    expect(routes).toEqual([]);
  });

  it('macvlan with traffic_rule: the rule applies (REJECT = refused at once), everything else is reached', async () => {
    const cfg = path.join(L().dir, 'macvlan-rule.cfg');
    fs.writeFileSync(
      cfg,
      `macvlan_iface: "${L().vethLab}"\nmacvlan_vs_ip: "${VS_IP}"\nmacvlan_vs_gw: "${L().gateway}"\nmacvlan_vs_nm: "255.255.255.0"\n` +
        `traffic_rule { dst_ip: "${HOSTS.private192}" action: REJECT }\n`,
    );
    const r = await jail(['--config', cfg], ['/bin/sh', '-c', probe([['tcp', HOSTS.private192, 80], ['tcp', HOSTS.public4, 80]])]);
    const [refused, reached] = parseLast(r).results as ProbeOut[];
    expect(refused, JSON.stringify(refused)).toMatchObject({ ok: false, errno: 'ENETUNREACH' });
    expect(refused.ms).toBeLessThan(1000);
    expect(reached, JSON.stringify(reached)).toMatchObject({ ok: true, body: worldBody(HOSTS.public4, 80) });
  });

  it('iface_own: the interface is in the jail, down and unconfigured, and gone from the lab while the jail runs; a veth is destroyed (with its peer) when the jail ends', async () => {
    const [own, peer] = await vethPair('o');
    // An address and up in the lab: moving it drops both.
    expect((await L().run(['ip', 'addr', 'add', '192.0.2.77/24', 'dev', own])).code).toBe(0);
    expect((await L().run(['ip', 'link', 'set', own, 'up'])).code).toBe(0);
    const go = path.join(L().dir, `go-${own}`);
    const p = L().spawn(jailArgv(['--iface_own', own], ['/bin/sh', '-c', `ip -j -d addr show dev ${own} && echo READY && while [ ! -e ${go} ]; do sleep 0.05; done`]), { timeoutMs: 40_000 });
    await p.waitForOutput(/READY/, 20_000);
    const during = await labLinks();
    fs.writeFileSync(go, '');
    const r = await p.exited;
    expect(r.code, r.stderr).toBe(0);
    const [addrs] = jsonLines(r) as [IpLink[]];
    expect(addrs[0]).toMatchObject({ ifname: own, operstate: 'DOWN', linkinfo: { info_kind: 'veth' } });
    expect(addrs[0].flags).not.toContain('UP');
    expect((addrs[0].addr_info as IpLink[]).filter((a) => a.family === 'inet')).toEqual([]);
    expect(during).not.toContain(own);
    expect(during).toContain(peer);
    const after = await labLinksWithout([own, peer]);
    expect(after).not.toContain(own);
    expect(after).not.toContain(peer);
  });

  it('iface_own and macvlan together: both in the jail', async () => {
    const [own] = await vethPair('b');
    const r = await jail(['--iface_own', own, '-I', L().vethLab, '--macvlan_vs_ip', VS_IP, '--macvlan_vs_gw', L().gateway], ['/bin/sh', '-c', 'ip -j link show']);
    expect(r.code, r.stderr).toBe(0);
    const [links] = jsonLines(r) as [IpLink[]];
    expect(links.map((l) => l.ifname).sort()).toEqual(['lo', own, 'vs'].sort());
    await labLinksWithout([`${own.slice(0, -1)}2`]);
  });

  it('a missing interface stops the launch at the network stage, naming it; nothing is left behind, an interface moved before the failure included', async () => {
    const before = await labLinks();
    const r = await jail(['-I', 'nosuch0', '--report', 'json'], ['/bin/true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain(`could not create the jail's MACVLAN 'vs' on host interface 'nosuch0'`);
    expect(r.stderr).toContain('Cannot find device "nosuch0"');
    expect(r.stderr).toContain("there is no interface 'nosuch0' here");
    expect(r.stderr).toMatch(/"stage":"network"/);

    const r2 = await jail(['--iface_own', 'nosuch1'], ['/bin/true']);
    expect(r2.code).toBe(255);
    expect(r2.stderr).toContain("could not move host interface 'nosuch1' into the jail (iface_own)");

    // Moved, then the MACVLAN fails: the jail never runs, and the veth goes with its namespace.
    const [own, peer] = await vethPair('f');
    const r3 = await jail(['--iface_own', own, '-I', 'nosuch2'], ['/bin/echo', 'RAN']);
    expect(r3.code).toBe(255);
    expect(r3.stdout).not.toContain('RAN');
    const after = await labLinksWithout([own, peer]);
    expect(after).toEqual(before);
    expect(after).not.toContain(own);
    expect(after).not.toContain(peer);
  });
});
