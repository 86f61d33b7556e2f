/**
 * The iproute2 steps for macvlan and iface_own (src/net/ifaces.ts): their command lines and how a
 * failure is told. The kernel side is in test/integration/net/macvlan.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { hostSteps, jailSteps, stepError } from '../../../src/net/ifaces';

const macvlan = { parent: 'eth0', mode: 'bridge' as const, mac: '02:00:00:00:00:01', address: { ip: '10.0.0.2', prefix: 24 }, gateway: '10.0.0.1' };

describe('iproute2 steps', () => {
  it("in the supervisor's namespace: iface_own moves first, then the MACVLAN, made in the jail's namespace (fd 3)", () => {
    expect(hostSteps({ own: ['eth1'], macvlan }).map((s) => s.args.join(' '))).toEqual([
      'link set dev eth1 netns /proc/self/fd/3',
      'link add link eth0 name vs address 02:00:00:00:00:01 netns /proc/self/fd/3 type macvlan mode bridge',
    ]);
    expect(hostSteps({ own: [], macvlan: { ...macvlan, mac: '' } })[0].args).not.toContain('address');
  });

  it("in the jail's namespace: address, up, default route; nothing for 0.0.0.0", () => {
    expect(jailSteps({ own: [], macvlan }).map((s) => s.args.join(' '))).toEqual(['addr add 10.0.0.2/24 dev vs', 'link set dev vs up', 'route add default via 10.0.0.1 dev vs']);
    expect(jailSteps({ own: [], macvlan: { ...macvlan, gateway: null } })).toHaveLength(2);
    expect(jailSteps({ own: [], macvlan: { ...macvlan, address: null, gateway: null } })).toEqual([]);
    expect(jailSteps({ own: ['eth1'], macvlan: null })).toEqual([]);
  });

  it('errors name the step, pass the kernel\'s words on and give the fix', () => {
    const [move, add] = hostSteps({ own: ['eth1'], macvlan });
    const missing = stepError(add, 'Cannot find device "eth0"\n');
    expect(missing.message).toBe("the jail's network: could not create the jail's MACVLAN 'vs' on host interface 'eth0' (macvlan_iface, mode bridge): Cannot find device \"eth0\"");
    expect(missing.hint).toMatch(/there is no interface 'eth0' here/);
    expect(stepError(move, 'RTNETLINK answers: Operation not permitted\n').hint).toMatch(/need root \(CAP_NET_ADMIN on the host\)/);
    expect(stepError(add, 'RTNETLINK answers: Address already in use\n').hint).toMatch(/already has that MAC/);
    const [addr] = jailSteps({ own: [], macvlan });
    expect(stepError(addr, 'Error: ipv4: Address already assigned.\nCommand failed -:1\n').message).toMatch(/could not give 'vs' the address 10\.0\.0\.2\/24 .*: Error: ipv4: Address already assigned\.$/);
  });
});
