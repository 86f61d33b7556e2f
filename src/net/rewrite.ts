/**
 * nsjail's user_net REDIRECT, ENCAP_CONNECT and ENCAP_SOCKS5 rules (outbound), supervisor side.
 *
 * nsjail's NSTUN sees every packet of the jail and rewrites them in user space; jail's link is
 * pasta, which does not. So the rewrite is split in two, both set up during the network gate
 * (src/net/session.ts), before the program runs:
 *  - the jail's netns gets an nftables `nat` table (natRuleset): a packet a rewrite rule matches
 *    is redirected to a listener on the jail's loopback (ICMP echo: answered by that loopback).
 *    It is installed by running `nft -f -` inside the jail's namespaces (addon.spawnInNetns:
 *    rootless, nsenter would not do, since execve drops the capabilities that entering the
 *    jail's user namespace gives a uid that is not 0 there); the program cannot remove it (it
 *    has no CAP_NET_ADMIN, src/net/plan.ts).
 *  - the listeners are sockets of the supervisor that live in the jail's netns (made by a clone
 *    of this process, addon.openNetnsSockets). For each connection the supervisor learns the
 *    original destination (SO_ORIGINAL_DST; UDP: a conntrack lookup) and opens its own socket in
 *    its own namespace: to redirect_ip:redirect_port (REDIRECT), or to the proxy there, asking it
 *    for the original destination (HTTP CONNECT; SOCKS5 CONNECT or UDP ASSOCIATE).
 * Which addresses the program may rewrite is left to the routing rules (plan.ts): a blocked
 * destination fails at connect(), before any packet reaches the nat table. Events need nothing
 * here: the network watch (src/net/watch.ts) already reports each connect/sendto with the rule
 * that decides it, and a rewrite rule's routing rule carries its name (user_net.rule4[1]).
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { NativeAddon } from '../native/types';
import { JailError } from '../errors';
import { findProgram, isExecutable } from './ifaces';
import type { JailNamespaces } from './link';
import type { NatRule } from './plan';

/** How long a proxy or redirect target may take to accept and answer the handshake. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A UDP flow with no datagram either way for this long is forgotten (nsjail: 60 s too). */
const UDP_IDLE_MS = 60_000;
/** Flows per UDP listener, as nsjail bounds its flow table. */
const MAX_UDP_FLOWS = 1024;
/** The table's name in the jail's netns (one jail, one netns: no clash). */
const TABLE = 'jail_user_net';

export const NFT_MISSING_HINT = "install nftables (Debian/Ubuntu: apt install nftables; Fedora: dnf install nftables), or point $JAIL_NFT at nft";

type Proto = 'tcp' | 'udp' | 'icmp';

/** The listener sockets a rule needs: one per rewritten TCP/UDP protocol (ICMP is answered by the jail's loopback). */
export function listenerKey(index: number, proto: 'tcp' | 'udp'): string {
  return `${index}/${proto}`;
}

function listenerProtos(r: NatRule): ('tcp' | 'udp')[] {
  return r.action === 'keep' ? [] : r.protos.filter((p): p is 'tcp' | 'udp' => p !== 'icmp');
}

function ports([a, b]: [number, number]): string {
  return a === b ? String(a) : `${a}-${b}`;
}

/** The nft match of one rule for one protocol ('' = any protocol). */
function match(r: NatRule, proto: Proto | ''): string {
  const ip = r.family === 4 ? 'ip' : 'ip6';
  const parts = [`meta nfproto ipv${r.family}`];
  if (r.src) parts.push(`${ip} saddr ${r.src}`);
  if (r.dst) parts.push(`${ip} daddr ${r.dst}`);
  const hasPorts = r.sport !== null || r.dport !== null;
  if (proto === 'icmp') {
    parts.push(r.family === 4 ? 'icmp type echo-request' : 'icmpv6 type echo-request');
  } else if (proto !== '') {
    parts.push(`meta l4proto ${proto}`);
  } else if (hasPorts) {
    parts.push('meta l4proto { tcp, udp }');
  }
  if (proto !== 'icmp') {
    if (r.sport) parts.push(`th sport ${ports(r.sport)}`);
    if (r.dport) parts.push(`th dport ${ports(r.dport)}`);
  }
  return parts.join(' ');
}

/**
 * The jail's nat table: `ports` maps listenerKey(rule index, proto) to the listener's port on the
 * jail's loopback. Loopback traffic is never rewritten (nsjail's NSTUN never sees it). Rules go
 * in order, so the first that matches decides, as in nsjail.
 */
export function natRuleset(rules: NatRule[], ports: Map<string, number>): string {
  const lines = [`table inet ${TABLE} {`, '  chain output {', '    type nat hook output priority -100; policy accept;', '    oifname "lo" accept'];
  rules.forEach((r, i) => {
    const comment = ` comment "${r.name}"`;
    if (r.action === 'keep') {
      const protos: (Proto | '')[] = r.protos.length === 0 ? [''] : r.protos;
      for (const p of protos) lines.push(`    ${match(r, p)} accept${comment}`);
      return;
    }
    for (const p of r.protos) {
      if (p === 'icmp') {
        lines.push(`    ${match(r, p)} dnat ${r.family === 4 ? 'ip to 127.0.0.1' : 'ip6 to ::1'}${comment}`);
        continue;
      }
      const port = ports.get(listenerKey(i, p));
      if (port === undefined) throw new Error(`no listener for ${r.name} ${p}`);
      lines.push(`    ${match(r, p)} redirect to :${port}${comment}`);
    }
  });
  lines.push('  }', '}', '');
  return lines.join('\n');
}

export type RewriteAddon = Pick<NativeAddon, 'openNetnsSockets' | 'originalDestination' | 'conntrackOriginalDestination' | 'spawnInNetns' | 'watchExit' | 'kill' | 'pipe' | 'close'>;

/** How long nft may take to install the table. */
const NFT_TIMEOUT_MS = 5000;
const NFT_EXIT: Record<number, string> = {
  121: "could not enter the jail's user namespace",
  122: "could not enter the jail's network namespace",
  123: 'could not set up its stdio',
  124: 'could not keep CAP_NET_ADMIN (ambient capabilities)',
  125: 'could not be executed',
};

/** `nft -f -` with `ruleset` on stdin, inside the jail's namespaces; its exit code (null: killed) and stderr. */
function runNft(addon: RewriteAddon, nft: string, ns: JailNamespaces, rootless: boolean, ruleset: string): Promise<{ code: number | null; stderr: string }> {
  const [inR, inW] = addon.pipe();
  const [errR, errW] = addon.pipe();
  let child: { pid: number; pidfd: number };
  try {
    child = addon.spawnInNetns(rootless ? ns.userns : -1, ns.netns, nft, [nft, '-f', '-'], ['LC_ALL=C'], inR, errW);
  } catch (e) {
    for (const fd of [inW, errR]) addon.close(fd);
    throw e;
  } finally {
    for (const fd of [inR, errW]) addon.close(fd);
  }
  try {
    // A few KiB at most, well inside a pipe's buffer: this write does not wait for nft.
    fs.writeSync(inW, ruleset);
  } catch {
    // nft died first: its exit says why
  }
  addon.close(inW);
  return new Promise((resolve) => {
    const timer = setTimeout(() => addon.kill(child.pidfd, 9), NFT_TIMEOUT_MS);
    addon.watchExit(child.pidfd, child.pid, (info) => {
      clearTimeout(timer);
      let stderr = '';
      const buf = Buffer.alloc(4096);
      for (let n; stderr.length < 8192 && (n = fs.readSync(errR, buf)) > 0; ) stderr += buf.toString('utf8', 0, n);
      addon.close(errR);
      addon.close(child.pidfd);
      const code = info.kind === 'exited' ? info.code : null;
      if (code !== null && NFT_EXIT[code]) stderr = `${nft} ${NFT_EXIT[code]}`;
      if (code === null) stderr += `killed (no answer after ${NFT_TIMEOUT_MS} ms)`;
      resolve({ code, stderr });
    });
  });
}

export interface RewriteOptions {
  addon: RewriteAddon;
  debug: (line: string) => void;
  euid?: number;
  env?: NodeJS.ProcessEnv;
}

export interface Rewrites {
  close(): void;
}

type Address = { address: string; port: number };

/**
 * Makes the listeners in the jail's netns, then installs its nat table. Rejects with a JailError
 * (nothing left open) when either fails: the jail must not run without its rules.
 */
export async function startRewrites(rules: NatRule[], ns: JailNamespaces, opts: RewriteOptions): Promise<Rewrites> {
  const env = opts.env ?? process.env;
  const nft = env.JAIL_NFT ? (isExecutable(env.JAIL_NFT) ? env.JAIL_NFT : null) : findProgram('nft', env);
  if (!nft) {
    const where = env.JAIL_NFT ? `$JAIL_NFT is ${env.JAIL_NFT}, which is not an executable file` : 'not on PATH nor in /usr/sbin, /sbin';
    throw new JailError('setup', `user_net's REDIRECT/ENCAP rules need nft (nftables), which is not installed (${where})`, { hint: NFT_MISSING_HINT });
  }
  const rootless = (opts.euid ?? process.geteuid?.() ?? -1) !== 0 && ns.userns >= 0;
  const specs: { family: 4 | 6; type: 'tcp' | 'udp' | 'netlink'; key: string }[] = [];
  rules.forEach((r, i) => {
    for (const p of listenerProtos(r)) specs.push({ family: r.family, type: p, key: listenerKey(i, p) });
  });
  const needsConntrack = specs.some((s) => s.type === 'udp');
  if (needsConntrack) specs.push({ family: 4, type: 'netlink', key: 'conntrack' });
  let fds: number[];
  try {
    fds = opts.addon.openNetnsSockets(rootless ? ns.userns : -1, ns.netns, specs.map(({ family, type }) => ({ family, type })));
  } catch (e) {
    const err = e as Error & { step?: number };
    const where = err.step === -3 ? "entering the jail's user namespace" : err.step === -2 ? "entering the jail's network namespace" : err.step === -1 ? "bringing up the jail's loopback" : `making the ${specs[err.step ?? 0]?.type} socket for ${specs[err.step ?? 0]?.key}`;
    throw new JailError('setup', `user_net's REDIRECT/ENCAP listeners: ${where} failed: ${err.message}`, { hint: 'the jail\'s network namespace must be reachable by the supervisor (same user, or root)' });
  }
  const closers: (() => void)[] = [];
  const set = new RewriteSet(closers);
  // Fds not yet handed to a Node server or socket (which then closes them): closed here on failure.
  const unowned = new Set(fds);
  closers.push(() => {
    for (const fd of unowned) opts.addon.close(fd);
  });
  try {
    const ports = new Map<string, number>();
    const conntrack = needsConntrack ? fds[fds.length - 1] : -1;
    if (conntrack >= 0) {
      unowned.delete(conntrack);
      closers.push(() => opts.addon.close(conntrack));
    }
    for (let k = 0; k < specs.length; k++) {
      const s = specs[k];
      if (s.type === 'netlink') continue;
      const index = Number(s.key.split('/')[0]);
      const ctx: ListenerContext = { rule: rules[index], addon: opts.addon, debug: opts.debug, conntrack };
      unowned.delete(fds[k]);
      ports.set(s.key, s.type === 'tcp' ? await serveTcp(fds[k], ctx, closers) : await serveUdp(fds[k], ctx, closers));
    }
    const ruleset = natRuleset(rules, ports);
    opts.debug(`${nft} -f - (in the jail's namespaces) <<< ${JSON.stringify(ruleset)}`);
    const ran = await runNft(opts.addon, nft, ns, rootless, ruleset);
    if (ran.code !== 0) {
      const said = ran.stderr.trim().split('\n').slice(0, 4).join('; ');
      throw new JailError('setup', `user_net's REDIRECT/ENCAP rules: nft could not install the jail's nat table: ${said || `exit ${ran.code}`}`, {
        hint: /No such file|not supported|Operation not supported|Protocol not supported/i.test(ran.stderr)
          ? 'the kernel needs nf_tables with nat (modules nf_tables, nft_nat, nft_redirect; load them as root: modprobe nft_nat nft_redirect)'
          : 'run with -v to see the ruleset',
      });
    }
    return set;
  } catch (e) {
    set.close();
    throw e;
  }
}

class RewriteSet implements Rewrites {
  private closed = false;
  constructor(private readonly closers: (() => void)[]) {}
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.closers.splice(0).reverse()) c();
  }
}

interface ListenerContext {
  rule: NatRule;
  addon: RewriteOptions['addon'];
  debug: (line: string) => void;
  conntrack: number;
}

/**
 * Whether `original` can be a destination the nat table rewrote. The table never rewrites the
 * jail's loopback, so a loopback "original destination" is the program talking to a listener's
 * port directly: never forwarded (a proxy would be asked for its own loopback).
 */
function rewritten(original: Address | null): original is Address {
  if (original === null) return false;
  return !(original.address === '::1' || /^127\./.test(original.address) || /^::ffff:127\./i.test(original.address));
}

/** Where a rewritten flow goes on the host side: the target, with the original ip/port where it has none. */
function hostTarget(rule: NatRule, original: Address): Address {
  return { address: rule.target?.ip || original.address, port: rule.target?.port || original.port };
}

function serveTcp(fd: number, ctx: ListenerContext, closers: (() => void)[]): Promise<number> {
  const sockets = new Set<net.Socket>();
  // pauseOnConnect: nothing the program sends is read before the host side is ready for it.
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (jailSide) => {
    sockets.add(jailSide);
    jailSide.once('close', () => sockets.delete(jailSide));
    handleTcp(jailSide, ctx, sockets);
  });
  closers.push(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function handleTcp(jailSide: net.Socket, ctx: ListenerContext, sockets: Set<net.Socket>): void {
  jailSide.on('error', () => jailSide.destroy());
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const fd: number = (jailSide as any)._handle?.fd ?? -1;
  let original: Address | null = null;
  try {
    original = fd >= 0 ? ctx.addon.originalDestination(fd, ctx.rule.family) : null;
  } catch {
    original = null;
  }
  // Not redirected by the nat table: the program connected to the listener's port itself.
  if (!rewritten(original)) {
    jailSide.destroy();
    return;
  }
  const { action } = ctx.rule;
  const to = action === 'redirect' ? hostTarget(ctx.rule, original) : { address: ctx.rule.target!.ip, port: ctx.rule.target!.port };
  const hostSide = net.connect({ host: to.address, port: to.port, allowHalfOpen: true });
  sockets.add(hostSide);
  hostSide.once('close', () => sockets.delete(hostSide));
  const fail = (why: string) => {
    clearTimeout(timer);
    ctx.debug(`${ctx.rule.name}: ${original!.address}:${original!.port} via ${to.address}:${to.port}: ${why}`);
    hostSide.destroy();
    // RST rather than FIN: the program sees the connection refused, not an empty answer.
    jailSide.resetAndDestroy();
  };
  const timer = setTimeout(() => fail(`no answer after ${HANDSHAKE_TIMEOUT_MS} ms`), HANDSHAKE_TIMEOUT_MS);
  hostSide.on('error', (e) => fail(e.message));
  jailSide.once('close', () => hostSide.destroy());
  hostSide.once('connect', () => {
    const handshake = action === 'connect' ? httpConnect(hostSide, original!) : action === 'socks5' ? socks5Connect(hostSide, original!) : Promise.resolve(Buffer.alloc(0));
    handshake.then(
      (rest) => {
        clearTimeout(timer);
        if (jailSide.destroyed) return hostSide.destroy();
        hostSide.setNoDelay(true);
        if (rest.length > 0) jailSide.write(rest);
        jailSide.pipe(hostSide);
        hostSide.pipe(jailSide);
        jailSide.resume();
      },
      (e: Error) => fail(e.message),
    );
  });
}

/** Reads from `sock` until `done(buffer)` returns the length of the answer (or throws); resolves with what came after it. */
function readAnswer(sock: net.Socket, done: (b: Buffer) => number | null, limit = 8192): Promise<{ answer: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = () => {
      sock.off('data', onData);
      sock.off('end', onEnd);
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('the proxy closed the connection during the handshake'));
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      let n: number | null;
      try {
        n = done(buf);
      } catch (e) {
        cleanup();
        return reject(e as Error);
      }
      if (n !== null) {
        cleanup();
        sock.pause();
        return resolve({ answer: buf.subarray(0, n), rest: buf.subarray(n) });
      }
      if (buf.length > limit) {
        cleanup();
        reject(new Error(`the proxy's answer is longer than ${limit} bytes`));
      }
    };
    sock.on('data', onData);
    sock.on('end', onEnd);
  });
}

function hostPort(a: Address): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** HTTP CONNECT for the original destination; resolves with any bytes after the proxy's header. */
export async function httpConnect(sock: net.Socket, dst: Address): Promise<Buffer> {
  const hp = hostPort(dst);
  sock.write(`CONNECT ${hp} HTTP/1.1\r\nHost: ${hp}\r\n\r\n`);
  const { answer, rest } = await readAnswer(sock, (b) => {
    const end = b.indexOf('\r\n\r\n');
    return end < 0 ? null : end + 4;
  });
  const status = answer.toString('latin1').split('\r\n')[0];
  if (!/^HTTP\/1\.[01] 2\d\d\b/.test(status)) throw new Error(`the HTTP proxy refused CONNECT ${hp}: ${status}`);
  return rest;
}

/** SOCKS5 address (ATYP, ADDR, PORT) of an IP address. */
function socksAddress(a: Address): Buffer {
  const port = Buffer.from([a.port >> 8, a.port & 0xff]);
  if (net.isIPv4(a.address)) return Buffer.concat([Buffer.from([1, ...a.address.split('.').map(Number)]), port]);
  return Buffer.concat([Buffer.from([4]), ipv6Bytes(a.address), port]);
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail = ''] = text.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = text.includes('::') ? groups(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Length of a SOCKS5 reply (VER REP RSV ATYP ADDR PORT) in `b`, or null while incomplete. */
function socksReplyLength(b: Buffer): number | null {
  if (b.length < 5) return null;
  if (b[0] !== 5) throw new Error(`not a SOCKS5 answer (version ${b[0]})`);
  if (b[1] !== 0) throw new Error(`the SOCKS5 server refused (reply ${b[1]})`);
  const len = b[3] === 1 ? 4 : b[3] === 4 ? 16 : b[3] === 3 ? 1 + b[4] : -1;
  if (len < 0) throw new Error(`the SOCKS5 server answered address type ${b[3]}`);
  return b.length >= 4 + len + 2 ? 4 + len + 2 : null;
}

async function socks5Greet(sock: net.Socket): Promise<void> {
  sock.write(Buffer.from([5, 1, 0]));
  const { answer } = await readAnswer(sock, (b) => (b.length >= 2 ? 2 : null));
  if (answer[0] !== 5 || answer[1] !== 0) throw new Error('the SOCKS5 server wants authentication (jail, like nsjail, offers none)');
}

/** SOCKS5 CONNECT to the original destination; resolves with any bytes after the reply. */
export async function socks5Connect(sock: net.Socket, dst: Address): Promise<Buffer> {
  await socks5Greet(sock);
  sock.resume();
  sock.write(Buffer.concat([Buffer.from([5, 1, 0]), socksAddress(dst)]));
  return (await readAnswer(sock, socksReplyLength)).rest;
}

/** SOCKS5 UDP ASSOCIATE: the relay's address (the server's own when it answers 0.0.0.0). */
async function socks5UdpAssociate(sock: net.Socket, server: Address): Promise<Address> {
  await socks5Greet(sock);
  sock.resume();
  sock.write(Buffer.from([5, 3, 0, 1, 0, 0, 0, 0, 0, 0]));
  const { answer } = await readAnswer(sock, socksReplyLength);
  const port = answer.readUInt16BE(answer.length - 2);
  let address = server.address;
  if (answer[3] === 1) address = Array.from(answer.subarray(4, 8)).join('.');
  if (answer[3] === 4) address = formatV6(answer.subarray(4, 20));
  if (address === '0.0.0.0' || address === '::') address = server.address;
  return { address, port };
}

function formatV6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** A SOCKS5 UDP datagram: RSV RSV FRAG ATYP ADDR PORT DATA. */
function socksUdpHeader(dst: Address): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0]), socksAddress(dst)]);
}

function socksUdpPayload(b: Buffer): Buffer | null {
  if (b.length < 4 || b[2] !== 0) return null;
  const len = b[3] === 1 ? 4 : b[3] === 4 ? 16 : b[3] === 3 ? 1 + (b[4] ?? 0) : -1;
  if (len < 0 || b.length < 4 + len + 2) return null;
  return b.subarray(4 + len + 2);
}

interface UdpFlow {
  timer: NodeJS.Timeout;
  send(b: Buffer): void;
  close(): void;
}

function serveUdp(fd: number, ctx: ListenerContext, closers: (() => void)[]): Promise<number> {
  const type = ctx.rule.family === 4 ? 'udp4' : 'udp6';
  const jailSide = dgram.createSocket(type);
  const flows = new Map<string, UdpFlow>();
  closers.push(() => {
    for (const f of flows.values()) f.close();
    jailSide.close();
  });
  jailSide.on('error', (e) => ctx.debug(`${ctx.rule.name}: UDP listener: ${e.message}`));
  jailSide.on('message', (msg, from) => {
    const key = `${from.address}/${from.port}`;
    let flow = flows.get(key);
    if (!flow) {
      if (flows.size >= MAX_UDP_FLOWS) return;
      const self = jailSide.address();
      let original: Address | null = null;
      try {
        original = ctx.addon.conntrackOriginalDestination(ctx.conntrack, ctx.rule.family, 17, self.address, self.port, from.address, from.port);
      } catch (e) {
        ctx.debug(`${ctx.rule.name}: conntrack lookup: ${(e as Error).message}`);
      }
      if (!rewritten(original)) return;
      const made = openUdpFlow(ctx, original, (reply) => jailSide.send(reply, from.port, from.address), () => flows.delete(key));
      flows.set(key, made);
      flow = made;
    }
    flow.timer.refresh();
    flow.send(msg);
  });
  return new Promise((resolve, reject) => {
    jailSide.once('error', reject);
    jailSide.bind({ fd } as dgram.BindOptions, () => resolve(jailSide.address().port));
  });
}

/** One UDP flow of the jail, host side: a socket to the target, or a SOCKS5 association. */
function openUdpFlow(ctx: ListenerContext, original: Address, reply: (b: Buffer) => void, forget: () => void): UdpFlow {
  const socks = ctx.rule.action === 'socks5';
  const to = socks ? { address: ctx.rule.target!.ip, port: ctx.rule.target!.port } : hostTarget(ctx.rule, original);
  const host = dgram.createSocket(net.isIPv6(to.address) ? 'udp6' : 'udp4');
  const queue: Buffer[] = [];
  let relay: Address | null = socks ? null : to;
  let control: net.Socket | null = null;
  let closed = false;
  const flow: UdpFlow = {
    timer: setTimeout(() => flow.close(), UDP_IDLE_MS),
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(flow.timer);
      host.close();
      control?.destroy();
      forget();
    },
    send(b: Buffer) {
      const out = socks ? Buffer.concat([socksUdpHeader(original), b]) : b;
      if (relay) host.send(out, relay.port, relay.address);
      else if (queue.length < 64) queue.push(out);
    },
  };
  host.on('error', () => flow.close());
  host.on('message', (msg, from) => {
    if (!relay || from.port !== relay.port) return;
    flow.timer.refresh();
    const payload = socks ? socksUdpPayload(msg) : msg;
    if (payload) reply(payload);
  });
  host.bind(0);
  if (socks) {
    // The association lives as long as its TCP connection (RFC 1928 §7).
    control = net.connect({ host: to.address, port: to.port });
    const timer = setTimeout(() => flow.close(), HANDSHAKE_TIMEOUT_MS);
    control.on('error', () => flow.close());
    control.once('close', () => flow.close());
    control.once('connect', () => {
      socks5UdpAssociate(control!, to).then(
        (r) => {
          clearTimeout(timer);
          relay = r;
          for (const b of queue.splice(0)) host.send(b, r.port, r.address);
          control!.resume();
        },
        (e: Error) => {
          ctx.debug(`${ctx.rule.name}: UDP ${hostPort(original)} via SOCKS5 ${hostPort(to)}: ${e.message}`);
          flow.close();
        },
      );
    });
  }
  return flow;
}
