/**
 * The supervisor's egress proxy for a jail with `--allow` domains: HTTP (CONNECT and plain
 * absolute-form requests) and SOCKS5 on one port, told apart by the first byte (0x05 is SOCKS;
 * no HTTP method starts with it). The jail reaches it through HTTP_PROXY/HTTPS_PROXY/ALL_PROXY.
 *
 * Every destination goes through decide(): a name must match a domain rule and an address an
 * IP/CIDR rule; the proxy resolves names itself (the client's resolution is never trusted) and
 * refuses a name when any of its addresses is blocked (blocklist.ts) and not explicitly allowed
 * by address, so a name that rebinds to 10.0.0.1 or 169.254.169.254 gets nowhere. It then
 * connects to the address it checked, never the name, so no second lookup can answer otherwise.
 *
 * Everything is bounded: the request head (16 KiB), the time to finish a handshake, to resolve
 * and to connect, and the connections at once. A malformed client only loses its connection.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import { listenError } from '../errors';
import { blockedBy, insideBlocklist } from './blocklist';
import { formatIp, tryParseIp, unmapV4 } from './cidr';
import { matchAllow, matchDomain, normalizeDomain, parsePort, splitHostPort, type AllowRule } from './destination';
import type { NetEvent } from './events';

export interface ProxyOptions {
  allow: AllowRule[];
  /** Addresses of the host, refused like the blocklist (hostAddresses() of blocklist.ts). */
  hostAddresses: string[];
  /** Called once per decision: an allow before connecting, a deny when refusing. */
  onEvent: (e: NetEvent) => void;
  /** A name's addresses (default: dns.promises.lookup, all of them, in the resolver's order). */
  resolve?: (host: string) => Promise<string[]>;
  /** Listen address (default 127.0.0.1); the port is always a free one the kernel picks. */
  host?: string;
  /** Time a client has from connecting to finishing its request head or SOCKS handshake (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Time for resolving a name, and again for connecting to the origin (default 10 s each). */
  connectTimeoutMs?: number;
}

export interface Proxy {
  port: number;
  /** Stops listening and destroys every live connection. */
  close(): Promise<void>;
}

const MAX_HEAD = 16 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
/** Each relayed connection holds two descriptors of the supervisor. */
const MAX_CONNECTIONS = 256;

const SOCKS = { ok: 0x00, notAllowed: 0x02, unreachable: 0x04, badCommand: 0x07, badAddressType: 0x08 } as const;

interface Context {
  allow: AllowRule[];
  /** The allow rules that open blocked addresses (blocklist.ts insideBlocklist). */
  lifts: AllowRule[];
  hostAddresses: string[];
  onEvent: (e: NetEvent) => void;
  resolve: (host: string) => Promise<string[]>;
  handshakeMs: number;
  connectMs: number;
  live: Set<net.Socket>;
  closed: boolean;
}

async function lookupAll(host: string): Promise<string[]> {
  return (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

/** `host:port`, with IPv6 in brackets. */
function show(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The head of a client's stream, buffered so the handshake can be read at its own pace. It holds
 * at most MAX_HEAD bytes (the socket is paused beyond), and whatever follows the handshake is
 * handed on by release() for the relay.
 */
class Head {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;

  private readonly onData = (chunk: Buffer): void => {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length >= MAX_HEAD) this.socket.pause();
    this.notify();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.notify();
  };

  /** Runs until the relay starts: a client slow to say where it goes, or to go after a refusal, is dropped. */
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly socket: net.Socket,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('close', () => clearTimeout(this.timer));
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Waits for more bytes; false when the client has ended or gone. */
  private more(): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    this.socket.resume();
    return new Promise((resolve) => {
      this.wake = () => resolve(true);
    });
  }

  /** The first byte, left in place; null when the client sent nothing. */
  async peek(): Promise<number | null> {
    while (this.buf.length === 0) if (!(await this.more())) return null;
    return this.buf[0];
  }

  /** Exactly `n` bytes, or null when the client ends first. */
  async take(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) if (!(await this.more())) return null;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The bytes before `delim` (which is consumed), 'too-large' when it is not within MAX_HEAD, null when the client ends first. */
  async until(delim: string): Promise<Buffer | 'too-large' | null> {
    for (;;) {
      const i = this.buf.indexOf(delim);
      if (i >= 0 && i + delim.length <= MAX_HEAD) {
        const out = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + delim.length);
        return out;
      }
      if (this.buf.length >= MAX_HEAD) return 'too-large';
      if (!(await this.more())) return null;
    }
  }

  /** Stops buffering: the bytes already read past the handshake, and whether the client has ended. */
  release(): { rest: Buffer; ended: boolean } {
    // Paused first: a flowing socket with no 'data' listener would drop what arrives before the relay pipes it.
    this.socket.pause();
    clearTimeout(this.timer);
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    return { rest: this.buf, ended: this.ended };
  }
}

type Decision =
  | { ok: true; address: string }
  /** `unreachable`: allowed but the name did not resolve (SOCKS 0x04, HTTP 502), else refused (0x02, 403). */
  | { ok: false; unreachable: boolean; message: string };

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Whether the jail may connect to `host` (a name or an address) at `port`; emits the one event of this decision. */
async function decide(ctx: Context, host: string, port: number): Promise<Decision> {
  type Outcome = Pick<NetEvent, 'dst' | 'domain' | 'rule'>;
  const emit = (action: NetEvent['action'], { dst, domain, rule }: Outcome) =>
    ctx.onEvent({ type: 'net', action, proto: 'tcp', dst, port, ...(domain === undefined ? {} : { domain }), rule });
  const deny = (e: Outcome, message: string, unreachable = false): Decision => {
    emit('deny', e);
    return { ok: false, unreachable, message: `jail: ${message}` };
  };
  const allow = (e: Outcome): Decision => {
    emit('allow', e);
    return { ok: true, address: e.dst };
  };

  const ip = tryParseIp(host);
  if (ip) {
    const address = formatIp(unmapV4(ip) ?? ip);
    // Only IP/CIDR rules match without a name; a blocked address needs one that names it (insideBlocklist).
    const rule = matchAllow(ctx.allow, { address, port });
    if (!rule) return deny({ dst: address, rule: 'not-allowed' }, `${show(address, port)} is not in the allow list (--allow)`);
    const blocked = blockedBy(address, ctx.hostAddresses);
    if (blocked && !matchAllow(ctx.lifts, { address, port })) {
      return deny({ dst: address, rule: blocked }, `${show(address, port)} is blocked (${blocked}) and ${rule.text} does not name it; to reach it, allow it by itself: --allow ${address}`);
    }
    return allow({ dst: address, rule: rule.text });
  }

  // The name looked up is the one matched (lowercase, no trailing dot), not the client's spelling of it.
  const name = normalizeDomain(host);
  const rule = name === null ? null : matchDomain(ctx.allow, name, port);
  if (!rule || name === null) return deny({ dst: host, domain: host, rule: 'not-allowed' }, `${show(host, port)} is not in the allow list (--allow)`);
  let addresses: string[];
  try {
    addresses = await withTimeout(ctx.resolve(name), ctx.connectMs, 'lookup');
  } catch (e) {
    return deny({ dst: host, domain: host, rule: 'unresolved' }, `cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, true);
  }
  if (addresses.length === 0) return deny({ dst: host, domain: host, rule: 'unresolved' }, `cannot resolve ${host}: no addresses`, true);
  const canonical = addresses.map((a) => {
    const parsed = tryParseIp(a);
    return parsed ? formatIp(unmapV4(parsed) ?? parsed) : a; // not an address: blockedBy refuses it
  });
  for (const address of canonical) {
    const blocked = blockedBy(address, ctx.hostAddresses);
    if (blocked && !matchAllow(ctx.lifts, { address, port })) {
      return deny({ dst: address, domain: host, rule: blocked }, `${show(host, port)} resolves to ${address}, which jail blocks (${blocked}); to reach it, allow the address: --allow ${address}`);
    }
  }
  return allow({ dst: canonical[0], domain: host, rule: rule.text });
}

function track(ctx: Context, socket: net.Socket): void {
  ctx.live.add(socket);
  socket.on('close', () => ctx.live.delete(socket));
  // A socket error only ever ends that connection (its 'close' takes the other side along).
  socket.on('error', () => socket.destroy());
}

/** A connected socket to the origin, or a rejection (refused, unreachable, timed out, proxy closing). */
function connectOrigin(ctx: Context, address: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (ctx.closed) return reject(new Error('proxy closed'));
    const s = net.connect({ host: address, port, allowHalfOpen: true });
    track(ctx, s);
    const done = (err?: Error) => {
      clearTimeout(timer);
      s.off('error', done);
      s.off('close', onClose);
      if (err) {
        s.destroy();
        reject(err);
      } else {
        resolve(s);
      }
    };
    const onClose = () => done(new Error('closed'));
    const timer = setTimeout(() => done(new Error(`timed out after ${ctx.connectMs} ms`)), ctx.connectMs);
    s.once('connect', () => done());
    s.once('error', done);
    s.once('close', onClose);
  });
}

/** Joins client and origin; `first` (a rewritten request head) goes to the origin before the client's remaining bytes. */
function relay(client: net.Socket, head: Head, origin: net.Socket, first?: Buffer): void {
  const { rest, ended } = head.release();
  if (client.destroyed) {
    origin.destroy();
    return;
  }
  client.on('close', () => origin.destroy());
  origin.on('close', () => client.destroy());
  if (first) origin.write(first);
  if (rest.length > 0) origin.write(rest);
  if (ended) origin.end();
  else client.pipe(origin);
  origin.pipe(client);
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway' };

function respond(client: net.Socket, status: number, message: string): void {
  const body = `${message}\n`;
  client.end(`HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function socksReply(client: net.Socket, code: number): void {
  // The bound address is always 0.0.0.0:0: clients do not need it, and the supervisor's own address is none of the jail's business.
  const reply = Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
  if (code === SOCKS.ok) client.write(reply);
  else client.end(reply);
}

async function serveSocks(ctx: Context, client: net.Socket, head: Head): Promise<void> {
  const greeting = await head.take(2);
  const methods = greeting && (await head.take(greeting[1]));
  if (!methods) return void client.destroy();
  if (!methods.includes(0x00)) return void client.end(Buffer.from([0x05, 0xff])); // no acceptable method: only "no authentication"
  client.write(Buffer.from([0x05, 0x00]));

  const req = await head.take(4);
  if (!req || req[0] !== 0x05) return void client.destroy();
  const [, command, , addressType] = req;
  if (command !== 0x01) return socksReply(client, SOCKS.badCommand); // only CONNECT: no BIND, no UDP ASSOCIATE
  let host: string;
  if (addressType === 0x01 || addressType === 0x04) {
    const bytes = await head.take(addressType === 0x01 ? 4 : 16);
    if (!bytes) return void client.destroy();
    host = formatIp({ family: addressType === 0x01 ? 4 : 6, bytes: Uint8Array.from(bytes) });
  } else if (addressType === 0x03) {
    const len = await head.take(1);
    const name = len && (await head.take(len[0]));
    if (!name) return void client.destroy();
    host = name.toString('latin1');
  } else {
    return socksReply(client, SOCKS.badAddressType);
  }
  const portBytes = await head.take(2);
  if (!portBytes) return void client.destroy();
  const port = portBytes.readUInt16BE(0);

  const decision = await decide(ctx, host, port);
  if (!decision.ok) return socksReply(client, decision.unreachable ? SOCKS.unreachable : SOCKS.notAllowed);
  let origin: net.Socket;
  try {
    origin = await connectOrigin(ctx, decision.address, port);
  } catch {
    return socksReply(client, SOCKS.unreachable);
  }
  socksReply(client, SOCKS.ok);
  relay(client, head, origin);
}

interface RequestHead {
  method: string;
  target: string;
  version: string;
  headers: [string, string][];
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const REQUEST_LINE = new RegExp(`^(${TOKEN}) (\\S+) (HTTP/1\\.[01])$`);
const HEADER_LINE = new RegExp(`^(${TOKEN}):[ \\t]*(.*?)[ \\t]*$`);

/** The request line and headers, or what is wrong with them. Control characters are refused so nothing odd reaches an origin. */
function parseRequestHead(text: string): RequestHead | string {
  const [line, ...rest] = text.split('\r\n');
  const m = REQUEST_LINE.exec(line);
  if (!m) return 'malformed request line (expected METHOD TARGET HTTP/1.1)';
  const headers: [string, string][] = [];
  for (const h of rest) {
    const hm = HEADER_LINE.exec(h);
    if (!hm || /[\x00-\x08\x0a-\x1f\x7f]/.test(hm[2])) return 'malformed header line';
    headers.push([hm[1], hm[2]]);
  }
  return { method: m[1], target: m[2], version: m[3], headers };
}

/** `host[:port]` of a request; null when malformed or without a port and no default. */
function parseAuthority(text: string, defaultPort?: number): { host: string; port: number } | null {
  const { host, port: portText } = splitHostPort(text);
  const port = portText === undefined ? defaultPort : parsePort(portText);
  if (host === '' || port === undefined || port === null) return null;
  return { host, port };
}

/**
 * Headers that belong to the client's hop. Content-Length and Transfer-Encoding stay whatever
 * Connection lists: the body is relayed byte for byte, so its framing must go with it.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade', 'host']);

function forwardedHead(req: RequestHead, authority: string, path: string): Buffer {
  const listed = new Set<string>();
  for (const [name, value] of req.headers) {
    if (name.toLowerCase() === 'connection') for (const t of value.split(',')) listed.add(t.trim().toLowerCase());
  }
  listed.delete('content-length');
  listed.delete('transfer-encoding');
  const lines = [`${req.method} ${path} ${req.version}`, `Host: ${authority}`];
  for (const [name, value] of req.headers) {
    const n = name.toLowerCase();
    if (!HOP_BY_HOP.has(n) && !listed.has(n)) lines.push(`${name}: ${value}`);
  }
  // One request per connection: the origin closes after its response, which ends the client's too.
  lines.push('Connection: close', '', '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

async function serveHttp(ctx: Context, client: net.Socket, head: Head): Promise<void> {
  const raw = await head.until('\r\n\r\n');
  if (raw === null) return void client.destroy();
  if (raw === 'too-large') return respond(client, 431, `jail: the request head is larger than ${MAX_HEAD} bytes`);
  const req = parseRequestHead(raw.toString('latin1'));
  if (typeof req === 'string') return respond(client, 400, `jail: ${req}`);

  let target: { host: string; port: number } | null;
  let forward: Buffer | undefined;
  if (req.method === 'CONNECT') {
    target = parseAuthority(req.target);
    if (!target) return respond(client, 400, `jail: CONNECT ${req.target}: expected host:port ([ipv6]:port)`);
  } else {
    if (!/^http:\/\//i.test(req.target)) {
      return respond(client, 400, `jail: ${req.method} ${req.target}: this is a proxy; it takes absolute-form http:// requests (GET http://host/path) and CONNECT host:port (for https)`);
    }
    const afterScheme = req.target.slice('http://'.length);
    const cut = afterScheme.search(/[/?#]/);
    const authority = cut < 0 ? afterScheme : afterScheme.slice(0, cut);
    let path = (cut < 0 ? '' : afterScheme.slice(cut)).split('#')[0];
    if (!path.startsWith('/')) path = `/${path}`;
    target = authority.includes('@') ? null : parseAuthority(authority, 80);
    if (!target) return respond(client, 400, `jail: ${req.target}: expected http://host[:port]/path`);
    forward = forwardedHead(req, authority, path);
  }

  const decision = await decide(ctx, target.host, target.port);
  if (!decision.ok) return respond(client, decision.unreachable ? 502 : 403, decision.message);
  let origin: net.Socket;
  try {
    origin = await connectOrigin(ctx, decision.address, target.port);
  } catch (e) {
    return respond(client, 502, `jail: cannot connect to ${show(target.host, target.port)} (${decision.address}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!forward) client.write('HTTP/1.1 200 Connection established\r\n\r\n');
  relay(client, head, origin, forward);
}

async function serveClient(ctx: Context, client: net.Socket): Promise<void> {
  const head = new Head(client, ctx.handshakeMs);
  const first = await head.peek();
  if (first === null) return void client.destroy();
  await (first === 0x05 ? serveSocks(ctx, client, head) : serveHttp(ctx, client, head));
}

export function startProxy(options: ProxyOptions): Promise<Proxy> {
  const ctx: Context = {
    allow: options.allow,
    lifts: options.allow.filter((r) => r.kind === 'cidr' && insideBlocklist(r.cidr, options.hostAddresses)),
    hostAddresses: options.hostAddresses,
    onEvent: options.onEvent,
    resolve: options.resolve ?? lookupAll,
    handshakeMs: options.handshakeTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    connectMs: options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    live: new Set(),
    closed: false,
  };
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    track(ctx, client);
    serveClient(ctx, client).catch(() => client.destroy());
  });
  server.maxConnections = MAX_CONNECTIONS;
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(listenError(`${host} (network proxy)`, e as NodeJS.ErrnoException)));
    server.listen(0, host, () => {
      // Later server errors are failed accepts (EMFILE, say): that client is lost, the proxy goes on.
      server.on('error', () => {});
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            ctx.closed = true;
            server.close(() => done());
            for (const s of ctx.live) s.destroy();
          }),
      });
    });
  });
}
