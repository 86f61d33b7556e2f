/**
 * The network planner: which routing rules each preset gives the jail's namespace, what the
 * supervisor runs (link, proxy), and what is refused. The kernel side is proven by the lab tests
 * (test/integration/net); here the rule lists themselves are checked.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load';
import { planNetwork, type NetRulePlan } from '../../../src/net/plan';
import { fromFlags } from '../../helpers/config';
import { thrown } from '../../helpers/thrown';

const HOSTS = ['127.0.0.1', '::1', '192.0.2.7'];
const plan = (flags: string[]) => planNetwork(fromFlags([...flags, '--', '/bin/true']).loaded, () => HOSTS);
const fromText = (text: string) => planNetwork(parseConfigText(text, 'net.cfg'), () => HOSTS);

const show = (r: NetRulePlan) => `${r.priority} v${r.family} ${r.dst || 'any'}${r.proto ? ` p${r.proto}` : ''}${r.dport ? ` :${r.dport.join('-')}` : ''} ${r.action}`;
const rules = (p: ReturnType<typeof planNetwork>) => p.native!.rules.map(show);

describe('network presets', () => {
  it('none (the default): no rules, no link, nothing to run', () => {
    const p = plan([]);
    expect(p.native).toBeNull();
    expect(p.runtime).toBeNull();
  });

  it('host: shares the host namespace; --allow and --publish are refused with it', () => {
    expect(plan(['--net', 'host']).native).toBeNull();
    expect(thrown(() => plan(['-N', '--publish', '8080:80'])).message).toMatch(/--publish needs the jail's own network namespace/);
    expect(thrown(() => plan(['-N', '--net', 'internet'])).message).toMatch(/--net internet needs the jail's own network namespace/);
  });

  it('internet: DNS to the forwarder first, then every blocked range and the host\'s own addresses, then the main table', () => {
    const p = plan(['--net', 'internet']);
    const r = rules(p);
    expect(r.slice(0, 2)).toEqual(['1000 v4 10.255.255.1 p6 :53-53 lookup', '1000 v4 10.255.255.1 p17 :53-53 lookup']);
    for (const cidr of ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.168.0.0/16', '224.0.0.0/4', '240.0.0.0/4']) {
      expect(r).toContain(`2000 v4 ${cidr} unreachable`);
    }
    for (const cidr of ['::1/128', '::/128', '::ffff:0.0.0.0/96', '64:ff9b::/96', 'fc00::/7', 'fe80::/10', 'ff00::/8']) {
      expect(r.some((x) => x.startsWith('2000 v6 ') && x.endsWith(' unreachable'))).toBe(true);
      void cidr;
    }
    expect(r).toContain('2001 v4 192.0.2.7 unreachable');
    expect(r).toContain('2001 v6 ::1 unreachable');
    expect(r.some((x) => x.startsWith('3999'))).toBe(false);
    expect(p.resolvConf).toMatch(/^nameserver 10\.255\.255\.1$/m);
    expect(p.runtime!.link!.dnsForward).toBe('10.255.255.1');
    expect(p.runtime!.proxy).toBeNull();
    expect(p.native!.gate).toBe(true);
  });

  it('limited: the blocklist, then TCP 80 and 443, then nothing', () => {
    const r = rules(plan(['--net', 'limited']));
    expect(r.filter((x) => x.startsWith('3000'))).toEqual(['3000 v4 any p6 :80-80 lookup', '3000 v6 any p6 :80-80 lookup', '3000 v4 any p6 :443-443 lookup', '3000 v6 any p6 :443-443 lookup']);
    expect(r.slice(-2)).toEqual(['3999 v4 any unreachable', '3999 v6 any unreachable']);
  });

  it('--allow: exactly the CIDRs by rule and the domains through the proxy; no DNS, nothing else', () => {
    const p = plan(['--allow', '203.0.113.20/32:80', '--allow', 'pypi.org', '--allow', '10.1.2.3']);
    const listed = rules(p).filter((r) => !/^200[01] /.test(r));
    expect(listed).toEqual([
      '2500 v4 203.0.113.20/32 p6 :80-80 lookup',
      '2500 v4 203.0.113.20/32 p17 :80-80 lookup',
      '1000 v4 10.1.2.3/32 lookup',
      '3999 v4 any unreachable',
      '3999 v6 any unreachable',
    ]);
    // The blocklist stands between them: a private address is open only when named by itself.
    expect(rules(p)).toContain('2000 v4 10.0.0.0/8 unreachable');
    expect(p.runtime!.proxy!.allow.map((a) => a.text)).toEqual(['203.0.113.20/32:80', 'pypi.org', '10.1.2.3/32']);
    expect(p.env).toContain('HTTPS_PROXY=http://127.0.0.1:3128');
    expect(p.env).toContain('no_proxy=localhost,127.0.0.1,::1');
    expect(p.resolvConf).toBeNull();
  });

  it('--publish alone: a link for inbound only, every outbound destination unreachable', () => {
    const p = plan(['--publish', '18080:8000']);
    expect(rules(p)).toEqual(['3999 v4 any unreachable', '3999 v6 any unreachable']);
    expect(p.runtime!.link!.publish).toEqual([{ hostIp: '127.0.0.1', hostPort: 18080, jailPort: 8000, proto: 'tcp' }]);
  });

  it('--allow 0.0.0.0/0 opens the public addresses, never the blocked ranges', () => {
    // The kernel orders rules by priority: the blocklist's 2000 comes before the allow's 2500.
    const r = rules(plan(['--allow', '0.0.0.0/0']));
    expect(r).toContain('2000 v4 169.254.0.0/16 unreachable');
    expect(r).toContain('2500 v4 0.0.0.0/0 lookup');
  });

  it('refuses bad values where they were written', () => {
    expect(thrown(() => fromFlags(['--net', 'wifi', '--', '/bin/true'])).message).toMatch(/'wifi' is not a network preset; use one of none, host, internet, limited/);
    expect(thrown(() => fromFlags(['--allow', 'http://x', '--', '/bin/true'])).message).toMatch(/accepted: a domain/);
    expect(thrown(() => fromFlags(['--publish', '99999:1', '--', '/bin/true'])).message).toMatch(/1-65535/);
  });
});

describe('capabilities of a networked jail', () => {
  it('a named CAP_NET_ADMIN or CAP_NET_RAW is refused', () => {
    expect(thrown(() => plan(['--net', 'internet', '--cap', 'CAP_NET_RAW'])).message).toMatch(/cannot keep CAP_NET_RAW/);
  });

  it('keep_caps keeps everything but those two, and says so', () => {
    const p = plan(['--net', 'internet', '--keep_caps']);
    expect(p.dropCaps).toEqual([12, 13]);
    expect(p.warnings.join()).toMatch(/every capability but CAP_NET_ADMIN and CAP_NET_RAW/);
  });

  it('without a link (no rules to protect) nothing is dropped', () => {
    expect(plan(['--keep_caps']).dropCaps).toEqual([]);
  });
});

describe("nsjail's network fields", () => {
  it('traffic_rule: routing rules, later rules first, as nsjail adds them', () => {
    const p = fromText('traffic_rule { dst_ip: "10.0.0.0/8" action: REJECT }\ntraffic_rule { proto: UDP dport: 53 action: DROP }\n');
    expect(rules(p)).toEqual(['999 v4 10.0.0.0/8 unreachable', '998 v4 any p17 :53-53 blackhole']);
    expect(p.runtime).toBeNull();
  });

  it('traffic_rule with an address of the other family points at the field', () => {
    const e = thrown(() => fromText('traffic_rule {\n  ip_family: IPV6\n  dst_ip: "10.0.0.1"\n}\n'));
    expect(e.message).toMatch(/'10\.0\.0\.1' is not an IPv6 address or CIDR/);
  });

  it('user_net: the internet preset with nsjail\'s addresses; HOST_TO_GUEST REDIRECT publishes on the host\'s loopback', () => {
    const p = fromText('user_net {\n  ip4: "10.1.1.2"\n  gw4: "10.1.1.1"\n  rule4 { direction: HOST_TO_GUEST action: REDIRECT proto: TCP dport: 8080 redirect_port: 8000 }\n  rule4 { proto: TCP dport: 25 action: REJECT }\n}\n');
    expect(p.runtime!.link).toMatchObject({ ip4: '10.1.1.2', gw4: '10.1.1.1', dnsForward: '10.1.1.1' });
    expect(p.runtime!.link!.publish).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, jailPort: 8000, proto: 'tcp' }]);
    expect(rules(p)).toContain('1500 v4 any p6 :25-25 unreachable');
    expect(rules(p)).toContain('2000 v4 10.0.0.0/8 unreachable');
  });

  it('user_net REDIRECT and ENCAP outbound rules are planned (test/unit/net/nstun-rewrite.test.ts has the details)', () => {
    const p = fromText('user_net {\n  rule4 { proto: TCP action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: 1080 }\n}\n');
    expect(p.runtime!.nat.map((r) => r.action)).toEqual(['keep', 'socks5']);
  });

  it('-Me cannot have a link (no supervisor stays to run it)', () => {
    expect(thrown(() => plan(['-Me', '--net', 'internet'])).message).toMatch(/-Me \(execve mode\) leaves no supervisor/);
  });
});

describe("nsjail's macvlan and iface_own (root only, no link, no blocklist)", () => {
  const asRoot = (flags: string[]) => planNetwork(fromFlags([...flags, '--', '/bin/true']).loaded, () => HOSTS, 0);
  const textAsRoot = (text: string) => planNetwork(parseConfigText(text, 'net.cfg'), () => HOSTS, 0);

  it("macvlan with nsjail's defaults: vs in private mode, 192.168.0.2/24 via 192.168.0.1; the gate, no link, no rules", () => {
    const p = asRoot(['-I', 'eth0']);
    expect(p.runtime!.link).toBeNull();
    expect(p.runtime!.ifaces).toEqual({ own: [], macvlan: { parent: 'eth0', mode: 'private', mac: '', address: { ip: '192.168.0.2', prefix: 24 }, gateway: '192.168.0.1' } });
    expect(p.native).toEqual({ rules: [], gate: true });
    expect(p.resolvConf).toBeNull();
    expect(p.dropCaps).toEqual([]);
  });

  it('nsjail\'s apache.cfg fields; traffic_rule still applies, the blocklist does not', () => {
    const p = textAsRoot('macvlan_iface: "enp0s31f6"\nmacvlan_vs_ip: "192.168.10.223"\nmacvlan_vs_nm: "255.255.255.0"\nmacvlan_vs_gw: "192.168.10.1"\ntraffic_rule { dst_ip: "192.168.10.5" action: REJECT }\n');
    expect(p.runtime!.ifaces!.macvlan).toMatchObject({ parent: 'enp0s31f6', address: { ip: '192.168.10.223', prefix: 24 }, gateway: '192.168.10.1' });
    expect(rules(p)).toEqual(['999 v4 192.168.10.5 unreachable']);
  });

  it('0.0.0.0 leaves vs unconfigured (address) or without a default route (gateway), as in nsjail', () => {
    expect(asRoot(['-I', 'eth0', '--macvlan_vs_ip', '0.0.0.0', '--macvlan_vs_gw', 'nonsense']).runtime!.ifaces!.macvlan).toMatchObject({ address: null, gateway: null });
    expect(asRoot(['-I', 'eth0', '--macvlan_vs_ip', '10.1.2.3', '--macvlan_vs_nm', '255.255.0.0', '--macvlan_vs_gw', '0.0.0.0', '--macvlan_vs_ma', '02:AA:bb:cc:dd:ee', '--macvlan_vs_mo', 'bridge']).runtime!.ifaces!.macvlan).toEqual({
      parent: 'eth0',
      mode: 'bridge',
      mac: '02:aa:bb:cc:dd:ee',
      address: { ip: '10.1.2.3', prefix: 16 },
      gateway: null,
    });
  });

  it('iface_own alone: moved interfaces, no MACVLAN', () => {
    const p = asRoot(['--iface_own', 'eth1', '--iface_own', 'eth2']);
    expect(p.runtime!.ifaces).toEqual({ own: ['eth1', 'eth2'], macvlan: null });
    expect(p.native!.gate).toBe(true);
  });

  it('refuses values the kernel would refuse, naming the field', () => {
    const cases: Array<[string[], RegExp]> = [
      [['-I', 'eth0', '--macvlan_vs_ip', '192.168.0.300'], /--macvlan_vs_ip.*'192\.168\.0\.300' is not an IPv4 address/],
      [['-I', 'eth0', '--macvlan_vs_nm', '255.0.255.0'], /--macvlan_vs_nm.*is not a netmask/],
      [['-I', 'eth0', '--macvlan_vs_gw', '10.0.0.1'], /--macvlan_vs_gw.*not another address on 192\.168\.0\.2\/24/],
      [['-I', 'eth0', '--macvlan_vs_gw', '192.168.0.2'], /not another address/],
      [['-I', 'eth0', '--macvlan_vs_ma', '02:11:22:33:44'], /'02:11:22:33:44' is not a MAC address/],
      [['-I', 'eth0', '--macvlan_vs_ma', '01:00:5e:00:00:01'], /is not a unicast address/],
      [['-I', 'eth0/x'], /'eth0\/x' is not a network interface name/],
      [['-I', 'averyveryverylongname'], /is not a network interface name/],
      [['--iface_own', 'lo'], /loopback interface cannot move/],
      [['--iface_own', 'eth1', '--iface_own', 'eth1'], /'eth1' is named twice/],
      [['-I', 'eth1', '--iface_own', 'eth1'], /both moved into the jail \(iface_own\) and the host interface of its MACVLAN/],
      [['-I', 'eth0', '--iface_own', 'vs'], /cannot be named 'vs'/],
    ];
    for (const [flags, re] of cases) expect(thrown(() => asRoot(flags)).message, flags.join(' ')).toMatch(re);
    expect(thrown(() => textAsRoot('macvlan_iface: "eth0"\nmacvlan_vs_mo: "source"\n')).message).toMatch(/'source' is not a MACVLAN mode/);
  });

  it('refuses mixing with a preset, --allow, --publish or user_net, a shared namespace, -Me, and rootless', () => {
    expect(thrown(() => asRoot(['-I', 'eth0', '--net', 'internet'])).message).toMatch(/cannot be combined with --net internet: the jail would have two ways out/);
    expect(thrown(() => asRoot(['--iface_own', 'eth1', '--allow', '1.1.1.1'])).message).toMatch(/iface_own cannot be combined with --allow/);
    expect(thrown(() => asRoot(['-I', 'eth0', '--publish', '8080:80'])).message).toMatch(/cannot be combined with --publish/);
    expect(thrown(() => textAsRoot('macvlan_iface: "eth0"\nuser_net {}\n')).message).toMatch(/cannot be combined with user_net/);
    expect(thrown(() => asRoot(['-I', 'eth0', '-N'])).message).toMatch(/the jail shares the host's \(-N \/ --net host\)/);
    expect(thrown(() => asRoot(['-I', 'eth0', '--net', 'host'])).message).toMatch(/the jail shares the host's/);
    expect(thrown(() => asRoot(['-Me', '-I', 'eth0'])).message).toMatch(/-Me \(execve mode\) leaves no supervisor to give the jail its interfaces/);
    const rootless = thrown(() => planNetwork(fromFlags(['-I', 'eth0', '--', '/bin/true']).loaded, () => HOSTS, 1000));
    expect(rootless.message).toMatch(/macvlan needs root \(CAP_NET_ADMIN on the host\)/);
    expect(rootless.hint).toMatch(/run jail as root/);
    expect(thrown(() => planNetwork(fromFlags(['--iface_own', 'eth1', '--', '/bin/true']).loaded, () => HOSTS, 1000)).message).toMatch(/iface_own needs root/);
  });

  it('keeps what caps the config asks for (nsjail does; there is no blocklist to protect)', () => {
    const p = asRoot(['-I', 'eth0', '--keep_caps']);
    expect(p.dropCaps).toEqual([]);
    expect(p.warnings).toEqual([]);
  });
});
