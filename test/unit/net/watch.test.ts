/**
 * Events for routed connections: the sockaddr the addon read is decoded, and the jail's own
 * rules are evaluated in the kernel's order (lowest priority number first) to name the decision.
 */
import { describe, expect, it } from 'vitest';
import type { SeccompNotification } from '../../../src/native/types';
import { planNetwork } from '../../../src/net/plan';
import { decodeSockaddr, netEventOf } from '../../../src/net/watch';
import { fromFlags } from '../../helpers/config';

function sockaddr4(ip: string, port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(2, 0);
  b.writeUInt16BE(port, 2);
  ip.split('.').forEach((x, i) => b.writeUInt8(Number(x), 4 + i));
  return b;
}

function sockaddr6(groups: number[], port: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(10, 0);
  b.writeUInt16BE(port, 2);
  groups.forEach((g, i) => b.writeUInt16BE(g, 8 + 2 * i));
  return b;
}

const notification = (sockaddr: Buffer, socketType = 1): SeccompNotification => ({ pid: 1, nr: 42, arch: 0xc000003e, args: [], sockaddr, socketType });
const runtimeFor = (flags: string[]) => planNetwork(fromFlags([...flags, '--', '/bin/true']).loaded, () => ['192.0.2.7']).runtime!;

describe('decodeSockaddr', () => {
  it('reads IPv4 and IPv6 destinations, and nothing else', () => {
    expect(decodeSockaddr(sockaddr4('198.51.100.10', 80))).toMatchObject({ port: 80, address: { family: 4 } });
    expect(decodeSockaddr(sockaddr6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10], 443))).toMatchObject({ port: 443, address: { family: 6 } });
    const unix = Buffer.alloc(110);
    unix.writeUInt16LE(1, 0);
    expect(decodeSockaddr(unix)).toBeNull();
    expect(decodeSockaddr(sockaddr4('1.2.3.4', 1).subarray(0, 6))).toBeNull();
  });
});

describe('netEventOf', () => {
  const internet = runtimeFor(['--net', 'internet']);

  it('a public destination goes out by the main table; a blocked one names its range', () => {
    expect(netEventOf(notification(sockaddr4('198.51.100.10', 80)), internet)).toEqual({ type: 'net', action: 'allow', proto: 'tcp', dst: '198.51.100.10', port: 80, rule: 'internet' });
    expect(netEventOf(notification(sockaddr4('169.254.169.254', 80)), internet)).toMatchObject({ action: 'deny', rule: 'link-local' });
    expect(netEventOf(notification(sockaddr4('192.0.2.7', 22)), internet)).toMatchObject({ action: 'deny', rule: 'host-address' });
    expect(netEventOf(notification(sockaddr6([0xfd00, 0, 0, 0, 0, 0, 0, 0x10], 80)), internet)).toMatchObject({ action: 'deny', rule: 'unique-local-v6' });
  });

  it('a v4-mapped IPv6 destination is judged as the IPv4 address it carries', () => {
    const e = netEventOf(notification(sockaddr6([0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203], 80)), internet);
    expect(e).toMatchObject({ action: 'deny', dst: '10.1.2.3', rule: 'private-10' });
  });

  it('DNS to the forwarder is allowed by its own rule; UDP elsewhere in a blocked range is not', () => {
    expect(netEventOf(notification(sockaddr4('10.255.255.1', 53), 2), internet)).toMatchObject({ action: 'allow', proto: 'udp', rule: 'dns' });
    expect(netEventOf(notification(sockaddr4('10.255.255.1', 80), 2), internet)).toMatchObject({ action: 'deny', rule: 'private-10' });
  });

  it("the jail's own loopback and address, and sockets that are neither TCP nor UDP, are no event", () => {
    expect(netEventOf(notification(sockaddr4('127.0.0.1', 3128)), internet)).toBeNull();
    expect(netEventOf(notification(sockaddr4('10.255.255.2', 80)), internet)).toBeNull();
    expect(netEventOf(notification(sockaddr4('198.51.100.10', 80), 3), internet)).toBeNull();
    expect(netEventOf({ ...notification(sockaddr4('198.51.100.10', 80)), sockaddr: undefined }, internet)).toBeNull();
  });

  it('limited and --allow name the rule that let a connection through or closed it', () => {
    const limited = runtimeFor(['--net', 'limited']);
    expect(netEventOf(notification(sockaddr4('198.51.100.10', 443)), limited)).toMatchObject({ action: 'allow', rule: 'limited' });
    expect(netEventOf(notification(sockaddr4('198.51.100.10', 8080)), limited)).toMatchObject({ action: 'deny', rule: 'limited' });
    const allow = runtimeFor(['--allow', '203.0.113.20/32:80']);
    expect(netEventOf(notification(sockaddr4('203.0.113.20', 80)), allow)).toMatchObject({ action: 'allow', rule: '203.0.113.20/32:80' });
    expect(netEventOf(notification(sockaddr4('203.0.113.20', 81)), allow)).toMatchObject({ action: 'deny', rule: 'not-allowed' });
  });
});
