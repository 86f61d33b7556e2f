import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { BLOCKED_RANGES, blockedBy, hostAddresses } from '../../../src/net/blocklist';
import { parseCidr, tryParseIp } from '../../../src/net/cidr';

describe('BLOCKED_RANGES', () => {
  it('are the documented ranges, each valid and named once', () => {
    expect(BLOCKED_RANGES.map((r) => r.cidr)).toEqual([
      '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.168.0.0/16', '224.0.0.0/4', '240.0.0.0/4',
      '::1/128', '::/128', '::ffff:0:0/96', '64:ff9b::/96', 'fc00::/7', 'fe80::/10', 'ff00::/8',
    ]);
    for (const r of BLOCKED_RANGES) expect(() => parseCidr(r.cidr)).not.toThrow();
    expect(new Set(BLOCKED_RANGES.map((r) => r.rule)).size).toBe(BLOCKED_RANGES.length);
  });
});

describe('blockedBy', () => {
  it('names the range of every blocked address, at both ends of each range', () => {
    const cases: [string, string][] = [
      ['0.0.0.0', 'this-network'], ['0.255.255.255', 'this-network'],
      ['10.0.0.0', 'private-10'], ['10.255.255.255', 'private-10'],
      ['100.64.0.0', 'shared-100-64'], ['100.127.255.255', 'shared-100-64'],
      ['127.0.0.1', 'loopback'], ['127.255.255.255', 'loopback'],
      ['169.254.0.1', 'link-local'], ['169.254.169.254', 'link-local'],
      ['172.16.0.0', 'private-172-16'], ['172.31.255.255', 'private-172-16'],
      ['192.0.0.1', 'ietf-192-0-0'], ['192.0.0.255', 'ietf-192-0-0'],
      ['192.168.0.1', 'private-192-168'], ['192.168.255.255', 'private-192-168'],
      ['224.0.0.1', 'multicast'], ['239.255.255.255', 'multicast'],
      ['240.0.0.1', 'reserved-240'], ['255.255.255.255', 'reserved-240'],
      ['::1', 'loopback-v6'], ['::', 'unspecified-v6'],
      ['64:ff9b::8.8.8.8', 'nat64'],
      ['fc00::1', 'unique-local-v6'], ['fdff:ffff::1', 'unique-local-v6'],
      ['fe80::1', 'link-local-v6'], ['febf::1', 'link-local-v6'], ['fe80::1%eth0', 'link-local-v6'],
      ['ff02::1', 'multicast-v6'], ['ff0e::1', 'multicast-v6'],
    ];
    for (const [address, rule] of cases) expect(blockedBy(address, []), address).toBe(rule);
  });

  it('lets public addresses through, just outside each range', () => {
    for (const a of ['1.1.1.1', '8.8.8.8', '11.0.0.0', '100.63.255.255', '100.128.0.0', '126.255.255.255', '128.0.0.0', '169.253.255.255', '172.15.255.255', '172.32.0.0', '192.0.1.0', '192.167.255.255', '192.169.0.0', '223.255.255.255', '2001:db8::1', '2606:4700::1111', 'fec0::1', '::2', '64:ff9b:1::1']) {
      expect(blockedBy(a, []), a).toBeNull();
    }
  });

  it('checks an IPv4-mapped IPv6 address against the IPv4 ranges (and blocks the mapped form of a public one too)', () => {
    expect(blockedBy('::ffff:10.0.0.1', [])).toBe('private-10');
    expect(blockedBy('::ffff:169.254.169.254', [])).toBe('link-local');
    expect(blockedBy('::ffff:127.0.0.1', [])).toBe('loopback');
    expect(blockedBy('::ffff:a9fe:a9fe', [])).toBe('link-local');
    expect(blockedBy('::ffff:8.8.8.8', [])).toBe('v4-mapped');
  });

  it('blocks the host\'s own addresses in any spelling', () => {
    const host = ['203.0.113.7', '2001:db8::7', 'fe80::7%eth0'];
    expect(blockedBy('203.0.113.7', host)).toBe('host-address');
    expect(blockedBy('2001:DB8:0::7', host)).toBe('host-address');
    expect(blockedBy('203.0.113.8', host)).toBeNull();
    expect(blockedBy('203.0.113.7', ['::ffff:203.0.113.7'])).toBe('host-address');
    expect(blockedBy('203.0.113.7', ['not an address'])).toBeNull();
  });

  it('fails closed on something that is not an address', () => {
    for (const a of ['', 'example.com', '1.2.3', '999.1.1.1']) expect(blockedBy(a, []), a).toBe('not-an-address');
  });
});

describe('hostAddresses', () => {
  it('lists this namespace\'s addresses (loopback when it is up), each one blocked', () => {
    const list = hostAddresses();
    const lo = Object.values(os.networkInterfaces()).flat().some((a) => a?.address === '127.0.0.1');
    expect(list.includes('127.0.0.1')).toBe(lo);
    for (const a of list) {
      expect(tryParseIp(a.split('%')[0]), a).not.toBeNull();
      expect(blockedBy(a, list), a).not.toBeNull();
    }
  });
});
