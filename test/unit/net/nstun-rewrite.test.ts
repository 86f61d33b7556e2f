/**
 * nsjail's user_net REDIRECT / ENCAP_CONNECT / ENCAP_SOCKS5 rules (outbound), planned: the nat
 * rules the supervisor installs (src/net/rewrite.ts), the routing rules that keep first-match
 * order and the blocklist, and what is refused. The kernel side is in
 * test/integration/net/nstun-rewrite.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load';
import { planNetwork, type NetRulePlan } from '../../../src/net/plan';
import { listenerKey, natRuleset } from '../../../src/net/rewrite';
import { thrown } from '../../helpers/thrown';

const HOSTS = ['127.0.0.1', '::1', '192.0.2.7'];
const fromText = (text: string) => planNetwork(parseConfigText(text, 'net.cfg'), () => HOSTS);
const show = (r: NetRulePlan) => `${r.priority} v${r.family} ${r.dst || 'any'}${r.proto ? ` p${r.proto}` : ''}${r.dport ? ` :${r.dport.join('-')}` : ''} ${r.action}`;
const userNet = (...rules: string[]) => `user_net {\n${rules.map((r) => `  ${r}\n`).join('')}}\n`;

// nsjail's own tests/socks5.cfg, its user_net part.
const SOCKS5_CFG = userNet(
  'rule4 { proto: ICMP action: REDIRECT redirect_ip: "127.0.0.2" }',
  'rule4 { proto: TCP action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: 1080 }',
  'rule4 { proto: UDP action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: 1080 }',
  'rule6 { proto: TCP action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: 1080 }',
);

describe('user_net rewrite rules: the plan', () => {
  it("nsjail's socks5.cfg: the DNS forwarder is kept, then each rule in order, with its target", () => {
    const nat = fromText(SOCKS5_CFG).runtime!.nat;
    expect(nat.map((r) => `${r.name} v${r.family} ${r.action} ${r.protos.join('+')} ${r.target ? `${r.target.ip}:${r.target.port}` : '-'}`)).toEqual([
      'dns v4 keep tcp+udp -',
      'user_net.rule4[0] v4 redirect icmp 127.0.0.2:0',
      'user_net.rule4[1] v4 socks5 tcp 127.0.0.1:1080',
      'user_net.rule4[2] v4 socks5 udp 127.0.0.1:1080',
      'user_net.rule6[0] v6 socks5 tcp 127.0.0.1:1080',
    ]);
  });

  it("nsjail's redirect.cfg and connect.cfg: IPv6 targets for rule6 REDIRECT, an IPv4 proxy for rule6 ENCAP_CONNECT", () => {
    const redirect = fromText(
      userNet(
        'rule4 { proto: UDP dport: 53 action: REDIRECT redirect_ip: "1.1.1.1" redirect_port: 53 }',
        'rule6 { proto: TCP dport: 80 action: REDIRECT redirect_ip: "2606:4700:4700::1111" redirect_port: 80 }',
      ),
    ).runtime!.nat;
    expect(redirect.slice(1).map((r) => `${r.name} ${r.protos.join('+')} :${r.dport?.join('-')} -> ${r.target!.ip}:${r.target!.port}`)).toEqual([
      'user_net.rule4[0] udp :53-53 -> 1.1.1.1:53',
      'user_net.rule6[0] tcp :80-80 -> 2606:4700:4700::1111:80',
    ]);
    const connect = fromText(userNet('rule6 { proto: TCP action: ENCAP_CONNECT redirect_ip: "127.0.0.1" redirect_port: 3128 }')).runtime!.nat;
    expect(connect[1]).toMatchObject({ family: 6, action: 'connect', protos: ['tcp'], target: { ip: '127.0.0.1', port: 3128 } });
  });

  it('a rewrite rule is a `lookup` routing rule at its place, preceded by the blocklist for what it matches', () => {
    const rules = fromText(SOCKS5_CFG).native!.rules.map(show);
    const at1501 = rules.filter((r) => r.startsWith('1501 v4'));
    expect(at1501).toContain('1501 v4 10.0.0.0/8 p6 unreachable');
    expect(at1501).toContain('1501 v4 169.254.0.0/16 p6 unreachable');
    expect(at1501).toContain('1501 v4 192.0.2.7 p6 unreachable');
    expect(at1501[at1501.length - 1]).toBe('1501 v4 any p6 lookup');
    // ::1 is both a blocked range and a host address: one rule (the kernel refuses twins).
    expect(rules.filter((r) => r === '1500 v6 ::1/128 p6 unreachable')).toHaveLength(1);
  });

  it('first match wins: a DROP before a rewrite is kept as it is by the nat table, a DROP after loses to the rewrite', () => {
    const p = fromText(
      userNet(
        'rule4 { proto: TCP dst_ip: "203.0.113.0/24" action: DROP }',
        'rule4 { proto: TCP action: REDIRECT redirect_ip: "127.0.0.1" redirect_port: 8080 }',
        'rule4 { proto: TCP dport: 80 action: DROP }',
      ),
    );
    expect(p.runtime!.nat.map((r) => `${r.name} ${r.action}`)).toEqual(['dns keep', 'user_net.rule4[0] keep', 'user_net.rule4[1] redirect']);
    const rules = p.native!.rules.map(show);
    expect(rules.indexOf('1501 v4 any p6 lookup')).toBeLessThan(rules.indexOf('1502 v4 any p6 :80-80 blackhole'));
    expect(rules).toContain('1500 v4 203.0.113.0/24 p6 blackhole');
  });

  it('a dst_ip inside the blocklist names those addresses on purpose: no blocklist before that rule', () => {
    const rules = fromText(userNet('rule4 { proto: TCP dst_ip: "10.0.0.0/8" action: REDIRECT redirect_ip: "127.0.0.1" redirect_port: 80 }')).native!.rules.map(show);
    expect(rules.filter((r) => r.startsWith('1500 '))).toEqual(['1500 v4 10.0.0.0/8 p6 lookup']);
  });

  it('ENCAP_CONNECT cannot carry UDP: its UDP is dropped (as nsjail), with a warning; proto ANY tunnels TCP only', () => {
    const p = fromText(userNet('rule4 { proto: UDP action: ENCAP_CONNECT redirect_ip: "127.0.0.1" redirect_port: 3128 }'));
    expect(p.warnings.join('\n')).toMatch(/user_net.rule4\[0\]: ENCAP_CONNECT cannot carry UDP/);
    expect(p.runtime!.nat).toEqual([]);
    expect(p.native!.rules.map(show)).toContain('1500 v4 any p17 blackhole');
    const any = fromText(userNet('rule4 { action: ENCAP_CONNECT redirect_ip: "127.0.0.1" redirect_port: 3128 }'));
    expect(any.runtime!.nat.map((r) => `${r.action} ${r.protos.join('+')}`)).toEqual(['keep tcp+udp', 'connect tcp']);
  });

  it('REDIRECT of proto ANY rewrites TCP, UDP and ICMP; redirect_port 0 keeps the original port', () => {
    const nat = fromText(userNet('rule6 { dst_ip: "2001:db8::/32" action: REDIRECT redirect_ip: "::1" }')).runtime!.nat;
    expect(nat[1]).toMatchObject({ family: 6, action: 'redirect', protos: ['tcp', 'udp', 'icmp'], target: { ip: '::1', port: 0 } });
  });

  it('refuses what cannot work, naming the field and the fix', () => {
    const icmp = thrown(() => fromText(userNet('rule4 { proto: ICMP action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: 1080 }')));
    expect(icmp.message).toMatch(/action ENCAP_SOCKS5 cannot carry ICMP/);
    expect(icmp.span?.line).toBe(2);
    expect(thrown(() => fromText(userNet('rule4 { proto: TCP action: ENCAP_CONNECT redirect_port: 3128 }'))).message).toMatch(/needs the proxy's address: redirect_ip and redirect_port/);
    expect(thrown(() => fromText(userNet('rule4 { proto: TCP action: REDIRECT }'))).message).toMatch(/REDIRECT without redirect_ip or redirect_port/);
    expect(thrown(() => fromText(userNet('rule4 { proto: TCP action: REDIRECT redirect_ip: "localhost" redirect_port: 80 }'))).message).toMatch(/'localhost' is not an IP address/);
    expect(thrown(() => fromText(userNet('rule6 { proto: TCP dst_ip: "10.0.0.0/8" action: REDIRECT redirect_ip: "::1" redirect_port: 80 }'))).message).toMatch(/'10.0.0.0\/8' is not an IPv6 address or CIDR/);
  });

  it('no rewrite rule, no nat table (DROP/REJECT/ALLOW stay routing rules only)', () => {
    expect(fromText(userNet('rule4 { proto: TCP dport: 25 action: REJECT }')).runtime!.nat).toEqual([]);
  });
});

describe('user_net rewrite rules: the nft ruleset', () => {
  it('loopback is never rewritten; each rule matches its family, addresses, protocol and ports, and redirects to its listener', () => {
    const nat = fromText(
      userNet(
        'rule4 { proto: TCP dst_ip: "198.51.100.0/24" src_ip: "10.255.255.2" dport: 80 dport_end: 90 action: REDIRECT redirect_ip: "127.0.0.1" redirect_port: 8080 }',
        'rule4 { proto: ICMP action: REDIRECT redirect_ip: "127.0.0.2" }',
        'rule6 { proto: UDP action: ENCAP_SOCKS5 redirect_ip: "127.0.0.1" redirect_port: 1080 }',
      ),
    ).runtime!.nat;
    const ports = new Map([
      [listenerKey(1, 'tcp'), 40001],
      [listenerKey(3, 'udp'), 40003],
    ]);
    expect(natRuleset(nat, ports)).toBe(
      [
        'table inet jail_user_net {',
        '  chain output {',
        '    type nat hook output priority -100; policy accept;',
        '    oifname "lo" accept',
        '    meta nfproto ipv4 ip daddr 10.255.255.1 meta l4proto tcp th dport 53 accept comment "dns"',
        '    meta nfproto ipv4 ip daddr 10.255.255.1 meta l4proto udp th dport 53 accept comment "dns"',
        '    meta nfproto ipv4 ip saddr 10.255.255.2 ip daddr 198.51.100.0/24 meta l4proto tcp th dport 80-90 redirect to :40001 comment "user_net.rule4[0]"',
        '    meta nfproto ipv4 icmp type echo-request dnat ip to 127.0.0.1 comment "user_net.rule4[1]"',
        '    meta nfproto ipv6 meta l4proto udp redirect to :40003 comment "user_net.rule6[0]"',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });
});
