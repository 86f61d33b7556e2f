import { describe, expect, it } from 'vitest';
import { JailError } from '../../../src/errors';
import { matchAllow, matchDomain, normalizeDomain, parseAllow, parsePublish } from '../../../src/net/destination';

const ACCEPTED = 'accepted: a domain (pypi.org), *.domain (*.huggingface.co), an IP or CIDR (10.0.0.0/8, [2001:db8::1]), optionally :PORT (pypi.org:443)';

function allowError(text: string): JailError {
  try {
    parseAllow(text);
  } catch (e) {
    expect(e).toBeInstanceOf(JailError);
    expect((e as JailError).code).toBe('flag');
    return e as JailError;
  }
  throw new Error(`--allow ${text} was accepted`);
}

describe('parseAllow', () => {
  it('reads domains, wildcards, addresses and ranges, each with an optional port, into canonical text', () => {
    const cases: [string, object][] = [
      ['pypi.org', { kind: 'domain', domain: 'pypi.org', port: undefined, text: 'pypi.org' }],
      ['PyPI.org.:443', { kind: 'domain', domain: 'pypi.org', port: 443, text: 'pypi.org:443' }],
      ['localhost', { kind: 'domain', domain: 'localhost', text: 'localhost' }],
      ['_srv.example-1.com', { kind: 'domain', domain: '_srv.example-1.com' }],
      ['*.huggingface.co', { kind: 'wildcard', suffix: 'huggingface.co', port: undefined, text: '*.huggingface.co' }],
      ['*.HuggingFace.co:443', { kind: 'wildcard', suffix: 'huggingface.co', port: 443, text: '*.huggingface.co:443' }],
      ['192.0.2.1', { kind: 'cidr', port: undefined, text: '192.0.2.1/32' }],
      ['192.0.2.1:8080', { kind: 'cidr', port: 8080, text: '192.0.2.1/32:8080' }],
      ['10.0.0.0/8', { kind: 'cidr', text: '10.0.0.0/8' }],
      ['10.0.0.0/8:5432', { kind: 'cidr', port: 5432, text: '10.0.0.0/8:5432' }],
      ['2001:db8::1', { kind: 'cidr', port: undefined, text: '2001:db8::1/128' }],
      ['2001:DB8::/32', { kind: 'cidr', text: '2001:db8::/32' }],
      ['[2001:db8::1]:443', { kind: 'cidr', port: 443, text: '[2001:db8::1/128]:443' }],
      ['[2001:db8::/32]:443', { kind: 'cidr', port: 443, text: '[2001:db8::/32]:443' }],
      ['[2001:db8::1]', { kind: 'cidr', port: undefined, text: '2001:db8::1/128' }],
      [' pypi.org ', { kind: 'domain', domain: 'pypi.org' }],
    ];
    for (const [text, want] of cases) expect(parseAllow(text), text).toMatchObject(want);
    // A bare IPv6 address has no port: the last group is part of the address.
    expect(parseAllow('2001:db8::1:443')).toMatchObject({ kind: 'cidr', port: undefined, text: '2001:db8::1:443/128' });
  });

  it('refuses bad values saying what is wrong, the value and what is accepted', () => {
    const cases: [string, string][] = [
      ['', 'no destination'],
      [':443', 'no destination'],
      ['pypi.org:', 'port "" is not a number from 1 to 65535'],
      ['pypi.org:0', 'port "0" is not a number from 1 to 65535'],
      ['pypi.org:65536', 'port "65536" is not a number from 1 to 65535'],
      ['pypi.org:https', 'port "https" is not a number from 1 to 65535'],
      ['1.2.3', '"1.2.3" is not an IPv4 address or CIDR'],
      ['256.1.1.1', '"256.1.1.1" is not an IPv4 address or CIDR'],
      ['10.0.0.0/33', 'has prefix length "33"'],
      ['10.0.0.1/8', 'has bits set after the /8 prefix'],
      ['[pypi.org]:443', '"pypi.org" in brackets is not an IPv6 address or CIDR'],
      ['[2001:db8::1:443', 'is not an IPv6 address or CIDR'],
      ['*.', '"" after "*." is not a domain name'],
      ['*', 'a wildcard is only accepted as a whole first label'],
      ['a.*.example.com', 'a wildcard is only accepted as a whole first label'],
      ['*example.com', 'a wildcard is only accepted as a whole first label'],
      ['exa mple.com', '"exa mple.com" is not a domain name'],
      ['-bad.com', '"-bad.com" is not a domain name'],
      ['a..com', '"a..com" is not a domain name'],
      ['example.123', '"example.123" is not a domain name'],
      ['http://pypi.org', 'is a URL, not a destination'],
      ['https://pypi.org:443/simple', 'is a URL, not a destination'],
      ['bücher.de', 'has non-ASCII characters'],
      [`${'a'.repeat(64)}.com`, 'is not a domain name'],
      ['::ffff:10.0.0.1', 'is an IPv4-mapped IPv6 address'],
    ];
    for (const [text, what] of cases) {
      const e = allowError(text);
      expect(e.message, text).toContain(`--allow ${JSON.stringify(text)}: `);
      expect(e.message, text).toContain(what);
      expect(e.message, text).toContain(ACCEPTED);
    }
    expect(allowError('10.0.0.1/8').hint).toBe('write the network 10.0.0.0/8, or the single address 10.0.0.1');
    expect(allowError('::ffff:10.0.0.1').hint).toBe('write the IPv4 form (10.0.0.1)');
    expect(allowError('::ffff:10.0.0.0/104').hint).toBe('write the IPv4 form (10.0.0.0/8)');
    expect(allowError('https://pypi.org:443/simple').hint).toBe('give the host (and port) alone: --allow pypi.org:443');
    expect(allowError('bücher.de').hint).toContain('punycode');
    expect(allowError('[2001:db8::1]x').message).toContain('is not an IPv6 address or CIDR');
  });
});

describe('normalizeDomain', () => {
  it('lowercases and drops the trailing dot; refuses what the resolver could misread', () => {
    expect(normalizeDomain('Example.COM.')).toBe('example.com');
    for (const bad of ['', '.', 'a\0.example.com', 'a b.com', 'a.example.com..', '10.1', `${'a.'.repeat(127)}com`]) expect(normalizeDomain(bad), bad).toBeNull();
  });
});

describe('matchAllow / matchDomain', () => {
  const rules = ['pypi.org', '*.huggingface.co:443', 'files.example.com:8443', '10.0.0.0/8', '[2001:db8::/32]:443', '192.0.2.7:22'].map(parseAllow);
  const [pypi, hf, files, ten, v6, ssh] = rules;

  it('matches a domain rule by name, case-insensitively and without the trailing dot, on any port unless it names one', () => {
    expect(matchAllow(rules, { host: 'pypi.org', address: '151.101.0.223', port: 443 })).toBe(pypi);
    expect(matchAllow(rules, { host: 'PYPI.ORG.', address: '151.101.0.223', port: 80 })).toBe(pypi);
    expect(matchAllow(rules, { host: 'files.example.com', address: '203.0.113.1', port: 8443 })).toBe(files);
    expect(matchAllow(rules, { host: 'files.example.com', address: '203.0.113.1', port: 443 })).toBeNull();
    expect(matchAllow(rules, { host: 'www.pypi.org', address: '151.101.0.223', port: 443 })).toBeNull();
    expect(matchAllow(rules, { host: 'pypi.org.evil.com', address: '203.0.113.1', port: 443 })).toBeNull();
  });

  it('matches a wildcard below its domain at any depth but not the domain itself', () => {
    expect(matchDomain(rules, 'cdn-lfs.huggingface.co', 443)).toBe(hf);
    expect(matchDomain(rules, 'a.b.HuggingFace.co', 443)).toBe(hf);
    expect(matchDomain(rules, 'huggingface.co', 443)).toBeNull();
    expect(matchDomain(rules, 'evilhuggingface.co', 443)).toBeNull();
    expect(matchDomain(rules, 'cdn.huggingface.co', 80)).toBeNull();
  });

  it('does not match a malformed name, even one that ends like an allowed domain', () => {
    expect(matchDomain(rules, 'evil\0.huggingface.co', 443)).toBeNull();
    expect(matchDomain(rules, 'evil .huggingface.co', 443)).toBeNull();
    expect(matchDomain(rules, '', 443)).toBeNull();
  });

  it('matches an IP/CIDR rule by address (a mapped IPv6 address as its IPv4 one), with or without a name', () => {
    expect(matchAllow(rules, { address: '10.1.2.3', port: 5432 })).toBe(ten);
    expect(matchAllow(rules, { address: '::ffff:10.1.2.3', port: 5432 })).toBe(ten);
    expect(matchAllow(rules, { host: 'db.internal', address: '10.1.2.3', port: 5432 })).toBe(ten);
    expect(matchAllow(rules, { address: '11.0.0.1', port: 5432 })).toBeNull();
    expect(matchAllow(rules, { address: '2001:db8:1::1', port: 443 })).toBe(v6);
    expect(matchAllow(rules, { address: '2001:db8:1::1', port: 80 })).toBeNull();
    expect(matchAllow(rules, { address: '192.0.2.7', port: 22 })).toBe(ssh);
    expect(matchAllow(rules, { address: '192.0.2.7', port: 23 })).toBeNull();
    expect(matchAllow(rules, { address: 'not-an-ip', port: 22 })).toBeNull();
  });

  it('does not match a domain rule without a name', () => {
    expect(matchAllow([pypi], { address: '151.101.0.223', port: 443 })).toBeNull();
  });
});

describe('parsePublish', () => {
  it('reads [HOSTIP:]HOSTPORT:JAILPORT[/tcp|/udp] with host 127.0.0.1 and tcp by default', () => {
    expect(parsePublish('8080:80')).toEqual({ hostIp: '127.0.0.1', hostPort: 8080, jailPort: 80, proto: 'tcp' });
    expect(parsePublish('0.0.0.0:8080:80/tcp')).toEqual({ hostIp: '0.0.0.0', hostPort: 8080, jailPort: 80, proto: 'tcp' });
    expect(parsePublish('5353:53/UDP')).toEqual({ hostIp: '127.0.0.1', hostPort: 5353, jailPort: 53, proto: 'udp' });
    expect(parsePublish('[::1]:5353:53/udp')).toEqual({ hostIp: '::1', hostPort: 5353, jailPort: 53, proto: 'udp' });
    expect(parsePublish('[0:0::1]:1:65535')).toEqual({ hostIp: '::1', hostPort: 1, jailPort: 65535, proto: 'tcp' });
  });

  it('refuses bad values saying what is wrong, the value and what is accepted', () => {
    const cases: [string, string][] = [
      ['8080', 'expected a host port and a jail port separated by ":"'],
      ['', 'expected a host port and a jail port'],
      ['1.2.3.4:5:6:7', 'expected a host port and a jail port'],
      ['0:80', 'host port "0" is not a number from 1 to 65535'],
      ['8080:65536', 'jail port "65536" is not a number from 1 to 65535'],
      ['8080:http', 'jail port "http" is not a number from 1 to 65535'],
      ['8080:80/sctp', 'protocol "sctp" is not tcp or udp'],
      ['localhost:8080:80', 'host address "localhost" is not an IPv4 address'],
      ['10.0.0.0/8:8080:80', 'protocol "8:8080:80" is not tcp or udp'],
      ['[::1:8080:80', 'an IPv6 host address must be in brackets followed by ":"'],
      ['[1.2.3.4]:8080:80', '"1.2.3.4" is not an IPv6 address'],
    ];
    for (const [text, what] of cases) {
      let err: unknown;
      try {
        parsePublish(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(JailError);
      const m = (err as JailError).message;
      expect(m, text).toContain(`--publish ${JSON.stringify(text)}: ${what}`);
      expect(m, text).toContain('accepted: [HOSTIP:]HOSTPORT:JAILPORT[/tcp|/udp] (8080:80, 127.0.0.1:8080:80/tcp, [::1]:5353:53/udp), ports 1-65535');
    }
  });
});
