/**
 * The proxy end to end on 127.0.0.1: a local origin (an echo server that answers HTTP requests
 * with the head it received), real sockets for SOCKS5 and HTTP clients, injected resolvers.
 * 127.0.0.1 is a blocked address (loopback), so tests that must reach the origin allow it by
 * address; tests that must not reach it count the origin's connections.
 */
import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllow } from '../../../src/net/destination';
import { NetCounter, type NetEvent } from '../../../src/net/events';
import { startProxy, type Proxy, type ProxyOptions } from '../../../src/net/proxy';

let origin: net.Server;
let originPort: number;
let originConnections = 0;
let lastHead = '';

beforeAll(async () => {
  origin = net.createServer((s) => {
    originConnections++;
    let seen = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const text = seen.toString('latin1');
      if (/^(GET|POST) /.test(text)) {
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
        if (seen.length < end + 4 + length) return;
        lastHead = text.slice(0, end);
        const body = `origin saw: ${text.slice(end + 4)}`;
        s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      } else {
        s.write(chunk);
      }
    });
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originPort = (origin.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => origin.close(() => r())));

const proxies: Proxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

async function proxy(allow: string[], extra: Partial<ProxyOptions> = {}): Promise<{ port: number; events: NetEvent[]; proxy: Proxy }> {
  const events: NetEvent[] = [];
  const p = await startProxy({ allow: allow.map(parseAllow), hostAddresses: [], onEvent: (e) => events.push(e), ...extra });
  proxies.push(p);
  return { port: p.port, events, proxy: p };
}

/** A client socket with reads of exact lengths and a read of everything until the server closes. */
class Client {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.waiters.splice(0).forEach((w) => w());
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  write(data: string | Buffer | number[]): this {
    this.socket.write(Array.isArray(data) ? Buffer.from(data) : data);
    return this;
  }

  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`closed after ${this.buf.length} of ${n} bytes: ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Everything until the proxy closes the connection. */
  async rest(): Promise<string> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.buf.toString('latin1');
  }
}

const GREETING = [0x05, 0x01, 0x00];
function socksRequest(atyp: number, address: Buffer | number[], port: number, command = 0x01): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([0x05, command, 0x00, atyp]), Buffer.from(address), p]);
}
const byName = (name: string, port: number) => socksRequest(0x03, [name.length, ...Buffer.from(name, 'latin1')], port);
const byIpv4 = (a: number[], port: number) => socksRequest(0x01, a, port);

async function socksConnect(c: Client, request: Buffer): Promise<number> {
  c.write(GREETING);
  expect([...(await c.read(2))]).toEqual([0x05, 0x00]);
  c.write(request);
  const reply = await c.read(10);
  expect([...reply.subarray(0, 4)]).toEqual([0x05, reply[1], 0x00, 0x01]);
  return reply[1];
}

const resolveTo = (...addresses: string[]) => async () => addresses;

describe('SOCKS5', () => {
  it('connects by domain to the address the proxy resolved, and relays both ways', async () => {
    const asked: string[] = [];
    const { port, events } = await proxy(['origin.test', '127.0.0.1/32'], { resolve: async (h) => (asked.push(h), ['127.0.0.1']) });
    const c = new Client(port);
    expect(await socksConnect(c, byName('Origin.Test', originPort))).toBe(0x00);
    c.write('hello');
    expect((await c.read(5)).toString()).toBe('hello');
    c.socket.end();
    await c.rest();
    expect(asked).toEqual(['origin.test']);
    expect(events).toEqual([{ type: 'net', action: 'allow', proto: 'tcp', dst: '127.0.0.1', port: originPort, domain: 'Origin.Test', rule: 'origin.test' }]);
  });

  it('connects by IPv4 address with an IP rule, the request pipelined with the greeting and data', async () => {
    const { port, events } = await proxy(['127.0.0.1/32']);
    const c = new Client(port);
    c.write(Buffer.concat([Buffer.from(GREETING), byIpv4([127, 0, 0, 1], originPort), Buffer.from('early bytes')]));
    c.socket.end();
    const all = await c.rest();
    expect([...Buffer.from(all, 'latin1').subarray(0, 12)]).toEqual([5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(all.slice(12)).toBe('early bytes');
    expect(events).toEqual([{ type: 'net', action: 'allow', proto: 'tcp', dst: '127.0.0.1', port: originPort, rule: '127.0.0.1/32' }]);
  });

  it('takes an IPv6 address (a mapped one is its IPv4 address; others need an IPv6 rule)', async () => {
    const { port, events } = await proxy(['127.0.0.1/32']);
    const mapped = new Client(port);
    expect(await socksConnect(mapped, socksRequest(0x04, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1], originPort))).toBe(0x00);
    mapped.socket.destroy();
    const v6 = new Client(port);
    expect(await socksConnect(v6, socksRequest(0x04, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], originPort))).toBe(0x02);
    await v6.rest();
    expect(events.map((e) => [e.action, e.dst, e.rule])).toEqual([
      ['allow', '127.0.0.1', '127.0.0.1/32'],
      ['deny', '::1', 'not-allowed'],
    ]);
  });

  it('refuses a name not in the allow list with 0x02, before resolving it', async () => {
    let lookups = 0;
    const { port, events } = await proxy(['pypi.org'], { resolve: async () => (lookups++, ['127.0.0.1']) });
    const c = new Client(port);
    expect(await socksConnect(c, byName('example.com', 443))).toBe(0x02);
    expect(await c.rest()).toBe('');
    expect(lookups).toBe(0);
    expect(events).toEqual([{ type: 'net', action: 'deny', proto: 'tcp', dst: 'example.com', port: 443, domain: 'example.com', rule: 'not-allowed' }]);
  });

  it('refuses a name whose answer is a blocked address with 0x02 and the blocklist rule, and never connects', async () => {
    const before = originConnections;
    const { port, events } = await proxy(['rebind.test'], { resolve: resolveTo('93.184.216.34', '127.0.0.1') });
    const c = new Client(port);
    expect(await socksConnect(c, byName('rebind.test', originPort))).toBe(0x02);
    await c.rest();
    expect(originConnections).toBe(before);
    expect(events).toEqual([{ type: 'net', action: 'deny', proto: 'tcp', dst: '127.0.0.1', port: originPort, domain: 'rebind.test', rule: 'loopback' }]);
  });

  it('answers 0x04 when the name does not resolve, or the origin refuses the connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { port, events } = await proxy(['nxdomain.test', '127.0.0.1/32'], {
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      },
    });
    const c = new Client(port);
    expect(await socksConnect(c, byName('nxdomain.test', 443))).toBe(0x04);
    const d = new Client(port);
    expect(await socksConnect(d, byIpv4([127, 0, 0, 1], deadPort))).toBe(0x04);
    expect(events).toEqual([
      { type: 'net', action: 'deny', proto: 'tcp', dst: 'nxdomain.test', port: 443, domain: 'nxdomain.test', rule: 'unresolved' },
      { type: 'net', action: 'allow', proto: 'tcp', dst: '127.0.0.1', port: deadPort, rule: '127.0.0.1/32' },
    ]);
  });

  it('answers 0x07 to BIND and UDP ASSOCIATE, 0x08 to an unknown address type, 0xff without the no-auth method', async () => {
    const { port, events } = await proxy(['127.0.0.1/32']);
    for (const command of [0x02, 0x03]) expect(await socksConnect(new Client(port), socksRequest(0x01, [127, 0, 0, 1], originPort, command))).toBe(0x07);
    expect(await socksConnect(new Client(port), socksRequest(0x05, [1, 2, 3, 4], originPort))).toBe(0x08);
    const c = new Client(port).write([0x05, 0x01, 0x02]);
    expect([...Buffer.from(await c.rest(), 'latin1')]).toEqual([0x05, 0xff]);
    expect(events).toEqual([]);
  });

  it('does not resolve a malformed name that ends like an allowed one', async () => {
    let lookups = 0;
    const { port, events } = await proxy(['*.example.com'], { resolve: async () => (lookups++, ['93.184.216.34']) });
    expect(await socksConnect(new Client(port), byName('evil\0.example.com', 80))).toBe(0x02);
    expect(lookups).toBe(0);
    expect(events).toMatchObject([{ action: 'deny', rule: 'not-allowed' }]);
  });
});

describe('HTTP', () => {
  it('CONNECT answers 200 and relays raw bytes', async () => {
    const { port, events } = await proxy(['origin.test', '127.0.0.1/32'], { resolve: resolveTo('127.0.0.1') });
    const c = new Client(port).write(`CONNECT origin.test:${originPort} HTTP/1.1\r\nHost: origin.test:${originPort}\r\n\r\n`);
    const ok = 'HTTP/1.1 200 Connection established\r\n\r\n';
    expect((await c.read(ok.length)).toString()).toBe(ok);
    c.write('ping');
    expect((await c.read(4)).toString()).toBe('ping');
    c.socket.end();
    await c.rest();
    expect(events).toEqual([{ type: 'net', action: 'allow', proto: 'tcp', dst: '127.0.0.1', port: originPort, domain: 'origin.test', rule: 'origin.test' }]);
  });

  it('CONNECT to an IPv6 literal in brackets is decided by address', async () => {
    const { port, events } = await proxy(['127.0.0.1/32']);
    const c = new Client(port).write(`CONNECT [::1]:${originPort} HTTP/1.1\r\n\r\n`);
    expect(await c.rest()).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n[^]*\r\n\r\njail: \[::1\]:\d+ is not in the allow list \(--allow\)\n$/);
    expect(events).toMatchObject([{ action: 'deny', dst: '::1', rule: 'not-allowed' }]);
  });

  it('forwards a plain GET in origin form with proxy and hop-by-hop headers removed', async () => {
    const { port, events } = await proxy(['origin.test', '127.0.0.1/32'], { resolve: resolveTo('127.0.0.1') });
    const c = new Client(port).write(
      `GET http://origin.test:${originPort}/path/x?q=1#frag HTTP/1.1\r\nHost: wrong\r\nUser-Agent: t\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nX-Kept: yes\r\n\r\n`,
    );
    const response = await c.rest();
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response.endsWith('origin saw: ')).toBe(true);
    expect(lastHead.split('\r\n')).toEqual(['GET /path/x?q=1 HTTP/1.1', `Host: origin.test:${originPort}`, 'User-Agent: t', 'X-Kept: yes', 'Connection: close']);
    expect(events).toEqual([{ type: 'net', action: 'allow', proto: 'tcp', dst: '127.0.0.1', port: originPort, domain: 'origin.test', rule: 'origin.test' }]);
  });

  it('forwards a request body after the head, and a target without a path as /', async () => {
    const { port } = await proxy(['127.0.0.1/32']);
    const c = new Client(port).write(`POST http://127.0.0.1:${originPort} HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody`);
    expect(await c.rest()).toMatch(/origin saw: body$/);
    expect(lastHead.split('\r\n')[0]).toBe('POST / HTTP/1.1');
  });

  it('refuses a domain not in the allow list, or on a port its rule does not name, with 403 and one line saying which and why', async () => {
    let lookups = 0;
    const { port, events } = await proxy(['pypi.org:443'], { resolve: async () => (lookups++, ['151.101.0.223']) });
    const c = new Client(port).write('CONNECT example.com:443 HTTP/1.1\r\n\r\n');
    const response = await c.rest();
    expect(response).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(response.split('\r\n\r\n')[1]).toBe('jail: example.com:443 is not in the allow list (--allow)\n');
    const g = new Client(port).write('GET http://pypi.org:8080/ HTTP/1.1\r\n\r\n');
    expect((await g.rest()).split('\r\n\r\n')[1]).toBe('jail: pypi.org:8080 is not in the allow list (--allow)\n');
    expect(lookups).toBe(0);
    expect(events).toEqual([
      { type: 'net', action: 'deny', proto: 'tcp', dst: 'example.com', port: 443, domain: 'example.com', rule: 'not-allowed' },
      { type: 'net', action: 'deny', proto: 'tcp', dst: 'pypi.org', port: 8080, domain: 'pypi.org', rule: 'not-allowed' },
    ]);
  });

  it('refuses a domain whose answer is blocked (403, the blocklist rule), unless an IP rule covers that address', async () => {
    const before = originConnections;
    const blocked = await proxy(['internal.test'], { resolve: resolveTo('127.0.0.1') });
    const c = new Client(blocked.port).write(`CONNECT internal.test:${originPort} HTTP/1.1\r\n\r\n`);
    const response = await c.rest();
    expect(response).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(response).toContain(`jail: internal.test:${originPort} resolves to 127.0.0.1, which jail blocks (loopback)`);
    expect(originConnections).toBe(before);
    expect(blocked.events).toEqual([{ type: 'net', action: 'deny', proto: 'tcp', dst: '127.0.0.1', port: originPort, domain: 'internal.test', rule: 'loopback' }]);

    const covered = await proxy(['internal.test', '127.0.0.0/8'], { resolve: resolveTo('127.0.0.1') });
    const d = new Client(covered.port).write(`CONNECT internal.test:${originPort} HTTP/1.1\r\n\r\n`);
    expect((await d.read(10)).toString()).toBe('HTTP/1.1 2');
    d.socket.destroy();
    expect(covered.events).toMatchObject([{ action: 'allow', dst: '127.0.0.1', domain: 'internal.test', rule: 'internal.test' }]);
  });

  it('refuses the host\'s own addresses and mapped private ones from the resolver', async () => {
    const { port, events } = await proxy(['self.test', 'mapped.test'], {
      hostAddresses: ['203.0.113.5'],
      resolve: async (h) => (h === 'self.test' ? ['203.0.113.5'] : ['::ffff:169.254.169.254']),
    });
    await new Client(port).write('CONNECT self.test:443 HTTP/1.1\r\n\r\n').rest();
    await new Client(port).write('CONNECT mapped.test:80 HTTP/1.1\r\n\r\n').rest();
    expect(events.map((e) => [e.action, e.dst, e.rule])).toEqual([
      ['deny', '203.0.113.5', 'host-address'],
      ['deny', '169.254.169.254', 'link-local'],
    ]);
  });

  it('answers 502 when the name does not resolve', async () => {
    const { port, events } = await proxy(['nowhere.test'], { resolve: resolveTo() });
    const response = await new Client(port).write('CONNECT nowhere.test:443 HTTP/1.1\r\n\r\n').rest();
    expect(response).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n[^]*jail: cannot resolve nowhere\.test: no addresses\n$/);
    expect(events).toMatchObject([{ action: 'deny', dst: 'nowhere.test', rule: 'unresolved' }]);
  });

  it('gives up on a lookup that takes longer than the connect timeout (502)', async () => {
    const { port, events } = await proxy(['slow.test'], { connectTimeoutMs: 100, resolve: () => new Promise(() => {}) });
    const response = await new Client(port).write('CONNECT slow.test:443 HTTP/1.1\r\n\r\n').rest();
    expect(response).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n[^]*jail: cannot resolve slow\.test: lookup timed out after 100 ms\n$/);
    expect(events).toMatchObject([{ action: 'deny', dst: 'slow.test', rule: 'unresolved' }]);
  });

  it('answers 400 to what is not a proxy request', async () => {
    const { port, events } = await proxy(['127.0.0.1/32']);
    const cases = [
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET https://127.0.0.1/ HTTP/1.1\r\n\r\n',
      'GET http://user@127.0.0.1/ HTTP/1.1\r\n\r\n',
      'CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n',
      'CONNECT ::1:443 HTTP/1.1\r\n\r\n',
      'GET http://127.0.0.1/ HTTP/2.0\r\n\r\n',
      'GET http://127.0.0.1/ HTTP/1.1\r\n folded\r\n\r\n',
      'GET http://127.0.0.1/ HTTP/1.1\r\nX: a\x00b\r\n\r\n',
      'GET http://127.0.0.1/ HTTP/1.1\r\nX: a\nY: b\r\n\r\n',
    ];
    for (const req of cases) expect(await new Client(port).write(req).rest(), JSON.stringify(req)).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\njail: .+\n$/);
    expect(events).toEqual([]);
  });

  it('answers 431 to a request head over 16 KiB', async () => {
    const { port, events } = await proxy(['127.0.0.1/32']);
    const c = new Client(port).write(`GET http://127.0.0.1:${originPort}/ HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(await c.rest()).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    const endless = new Client(port);
    endless.write('GET http://127.0.0.1/ HTTP/1.1\r\n');
    for (let i = 0; i < 100; i++) endless.write(`X-${i}: ${'b'.repeat(1000)}\r\n`);
    expect(await endless.rest()).toMatch(/^HTTP\/1\.1 431 /);
    expect(events).toEqual([]);
  });
});

describe('robustness', () => {
  it('survives garbage: each bad client loses its connection and the proxy still serves', async () => {
    const { port, events } = await proxy(['127.0.0.1/32'], { handshakeTimeoutMs: 500 });
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const garbage: Buffer[] = [Buffer.from([0x05]), Buffer.from([0x05, 0x00]), Buffer.from([0x05, 0xff, 0x00]), Buffer.from([0x05, 0x01, 0x00, 0x04, 0x01, 0x00, 0x03, 0x00]), Buffer.from('\r\n\r\n'), Buffer.from('\0\0\0\0\r\n\r\n')];
    for (let i = 0; i < 40; i++) garbage.push(Buffer.from(Array.from({ length: 1 + (random() % 300) }, () => random() & 0xff)));
    await Promise.all(
      garbage.map(async (g) => {
        const c = new Client(port);
        c.write(g);
        c.socket.end();
        await c.rest();
      }),
    );
    // A client that says nothing, or stops half-way through a handshake, is dropped after the handshake timeout.
    const halfway = new Client(port).write([0x05, 0x01, 0x00, 0x05, 0x01]);
    const slow = new Client(port).write('GET http://127.0.0.1/ HTTP/1.1\r\nX: ');
    const silent = new Client(port);
    const t0 = Date.now();
    await silent.rest();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    await halfway.rest();
    await slow.rest();
    // Still working.
    const ok = new Client(port);
    expect(await socksConnect(ok, byIpv4([127, 0, 0, 1], originPort))).toBe(0x00);
    ok.socket.destroy();
    expect(events.filter((e) => e.action === 'allow').length).toBeGreaterThanOrEqual(1);
  });

  it('close() stops listening and ends live relays', async () => {
    const { port, proxy: p } = await proxy(['127.0.0.1/32']);
    const c = new Client(port);
    expect(await socksConnect(c, byIpv4([127, 0, 0, 1], originPort))).toBe(0x00);
    const idle = new Client(port);
    await p.close();
    await c.rest();
    await idle.rest();
    expect(c.closed && idle.closed).toBe(true);
    await expect(new Promise((resolve, reject) => net.connect(port, '127.0.0.1').on('connect', resolve).on('error', reject))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('NetCounter', () => {
  it('counts allowed and denied events', () => {
    const counter = new NetCounter();
    const e: NetEvent = { type: 'net', action: 'allow', proto: 'tcp', dst: '192.0.2.1', port: 443, rule: 'x' };
    counter.count(e);
    counter.count(e);
    counter.count({ ...e, action: 'deny', rule: 'not-allowed' });
    expect(counter.result()).toEqual({ allowed: 2, denied: 1 });
  });
});
