import { describe, expect, it } from 'vitest';
import { JailError } from '../../../src/errors';
import { contains, formatCidr, formatIp, parseCidr, parseIp, tryParseCidr, tryParseIp, unmapV4 } from '../../../src/net/cidr';

describe('parseIp / formatIp', () => {
  it('reads IPv4 as four bytes', () => {
    const ip = parseIp('192.0.2.1');
    expect(ip.family).toBe(4);
    expect(Array.from(ip.bytes)).toEqual([192, 0, 2, 1]);
    expect(formatIp(ip)).toBe('192.0.2.1');
    expect(formatIp(parseIp('0.0.0.0'))).toBe('0.0.0.0');
    expect(formatIp(parseIp('255.255.255.255'))).toBe('255.255.255.255');
  });

  it('reads IPv6 in every spelling and writes the RFC 5952 form', () => {
    const cases: [string, string][] = [
      ['::', '::'],
      ['::1', '::1'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['2001:DB8::1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['fe80::', 'fe80::'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ];
    for (const [input, canon] of cases) {
      const ip = parseIp(input);
      expect(ip.family, input).toBe(6);
      expect(ip.bytes.length).toBe(16);
      expect(formatIp(ip), input).toBe(canon);
    }
  });

  it('recognises IPv4-mapped IPv6 and hands out the IPv4 address inside', () => {
    for (const text of ['::ffff:10.0.0.1', '::FFFF:a00:1', '0:0:0:0:0:ffff:10.0.0.1']) {
      const ip = parseIp(text);
      expect(ip.family).toBe(6);
      expect(formatIp(ip)).toBe('::ffff:10.0.0.1');
      const v4 = unmapV4(ip)!;
      expect(v4.family).toBe(4);
      expect(formatIp(v4)).toBe('10.0.0.1');
    }
    expect(unmapV4(parseIp('::10.0.0.1'))).toBeNull();
    expect(unmapV4(parseIp('10.0.0.1'))).toBeNull();
    expect(unmapV4(parseIp('2001:db8::ffff:a00:1'))).toBeNull();
  });

  it('refuses anything else, saying what it takes', () => {
    const bad = [
      '', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', '1.2.3.4 ', ' 1.2.3.4', '0x7f.0.0.1', '2130706433',
      'a.b.c.d', ':::', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', '::1.2.3', '::1.2.3.4:5',
      'fe80::1%eth0', '[::1]', 'localhost', '1.2.3.4/8',
    ];
    for (const text of bad) {
      expect(tryParseIp(text), text).toBeNull();
      expect(() => parseIp(text), text).toThrow(JailError);
    }
    expect(() => parseIp('1.2.3')).toThrow('"1.2.3" is not an IP address; accepted: IPv4 (192.0.2.1) or IPv6 (2001:db8::1)');
  });
});

describe('parseCidr / contains', () => {
  it('reads ranges and single addresses (full-length prefix)', () => {
    expect(formatCidr(parseCidr('10.0.0.0/8'))).toBe('10.0.0.0/8');
    expect(formatCidr(parseCidr('10.1.2.3'))).toBe('10.1.2.3/32');
    expect(formatCidr(parseCidr('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(formatCidr(parseCidr('2001:DB8::/32'))).toBe('2001:db8::/32');
    expect(formatCidr(parseCidr('::1'))).toBe('::1/128');
    expect(formatCidr(parseCidr('::ffff:0:0/96'))).toBe('::ffff:0.0.0.0/96');
    expect(tryParseCidr('pypi.org')).toBeNull();
  });

  it('tests membership on bits, not text', () => {
    const ten = parseCidr('10.0.0.0/8');
    expect(contains(ten, parseIp('10.255.255.255'))).toBe(true);
    expect(contains(ten, parseIp('11.0.0.0'))).toBe(false);
    const cgnat = parseCidr('100.64.0.0/10');
    expect(contains(cgnat, parseIp('100.127.255.255'))).toBe(true);
    expect(contains(cgnat, parseIp('100.128.0.0'))).toBe(false);
    expect(contains(parseCidr('0.0.0.0/0'), parseIp('203.0.113.9'))).toBe(true);
    expect(contains(parseCidr('192.0.2.1'), parseIp('192.0.2.1'))).toBe(true);
    expect(contains(parseCidr('192.0.2.1'), parseIp('192.0.2.2'))).toBe(false);
    const fe80 = parseCidr('fe80::/10');
    expect(contains(fe80, parseIp('febf:ffff::1'))).toBe(true);
    expect(contains(fe80, parseIp('fec0::1'))).toBe(false);
    expect(contains(parseCidr('::/0'), parseIp('2001:db8::1'))).toBe(true);
  });

  it('never mixes families (a mapped address is tested through unmapV4)', () => {
    const ten = parseCidr('10.0.0.0/8');
    const mapped = parseIp('::ffff:10.0.0.1');
    expect(contains(ten, mapped)).toBe(false);
    expect(contains(ten, unmapV4(mapped)!)).toBe(true);
    expect(contains(parseCidr('::/0'), parseIp('10.0.0.1'))).toBe(false);
  });

  it('refuses bad prefixes and host bits after the prefix, with the fix', () => {
    for (const text of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/08', '10.0.0.0/a', '::/129', '10.0.0.0/8/8']) {
      expect(() => parseCidr(text), text).toThrow(JailError);
    }
    expect(() => parseCidr('10.0.0.0/33')).toThrow('"10.0.0.0/33" has prefix length "33": IPv4 takes 0-32; accepted: an IPv4 or IPv6 address, optionally /PREFIX');
    try {
      parseCidr('10.0.0.1/8');
      expect.unreachable();
    } catch (e) {
      expect((e as JailError).message).toContain('"10.0.0.1/8" has bits set after the /8 prefix');
      expect((e as JailError).hint).toBe('write the network 10.0.0.0/8, or the single address 10.0.0.1');
    }
    expect(() => parseCidr('2001:db8::1/32')).toThrow('has bits set after the /32 prefix');
    expect(() => parseCidr('bogus/8')).toThrow('"bogus/8" is not an IP address or CIDR range');
  });
});
