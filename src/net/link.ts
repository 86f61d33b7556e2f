/**
 * The jail's user-mode network link: pasta (Debian's passt package), run by the supervisor for one
 * jail. pasta joins the jail's user and network namespaces, creates the jail's interface, and
 * turns the jail's packets into ordinary sockets of the supervisor's network namespace. It needs
 * no root, which is why jail uses it for every preset that reaches outside.
 *
 * What pasta must not do is left to the routing rules the jail's init installs (src/net/plan.ts);
 * here every pasta default that would open a way to the host is turned off: no port is forwarded
 * unless asked for (-t/-u/-T/-U none), and the gateway is not mapped to the host's loopback.
 *
 * Lifetime: pasta runs in the foreground as the supervisor's child under `setpriv --pdeathsig
 * KILL`, so it dies with the supervisor even when the supervisor is SIGKILLed; it writes its pid
 * file only once the jail's interface is configured, which is how startLink knows the link is up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { JailError } from '../errors';
import type { LinkPlan } from './plan';
import { PROXY_JAIL_PORT } from './plan';
import { isExecutable } from './ifaces';

/** How long pasta may take to bring the link up (it takes ~10 ms). */
const READY_TIMEOUT_MS = 5000;

/** The jail's namespaces, as fds of this process (launch's netnsFd and usernsFd; -1 = none). */
export interface JailNamespaces {
  netns: number;
  userns: number;
}

export interface Link {
  /** Resolves when pasta exits, with why. */
  readonly exited: Promise<string>;
  stop(): void;
}

/**
 * pasta's program: $JAIL_PASTA, else `pasta` on PATH (null when there is none). Where the
 * package ships an AVX2 build beside it (`pasta.avx2`, Debian) and this CPU has AVX2, that one:
 * plain `pasta` would re-exec it itself, ~2 ms later.
 */
export function findPasta(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.JAIL_PASTA) return env.JAIL_PASTA;
  for (const dir of (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const candidate = path.join(dir || '.', 'pasta');
    if (!isExecutable(candidate)) continue;
    return isExecutable(`${candidate}.avx2`) && hasAvx2() ? `${candidate}.avx2` : candidate;
  }
  return null;
}

let avx2: boolean | undefined;
function hasAvx2(): boolean {
  if (avx2 === undefined) {
    try {
      avx2 = /^flags\s*:.*\bavx2\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      avx2 = false;
    }
  }
  return avx2;
}

export const PASTA_MISSING_HINT = 'install pasta (Debian/Ubuntu: apt install passt; Fedora: dnf install passt), or point $JAIL_PASTA at it';

function portMap(spec: { hostIp: string; hostPort: number; jailPort: number }): string {
  return `${spec.hostIp}/${spec.hostPort}:${spec.jailPort}`;
}

/** pasta's arguments for one jail (without the pid file and the pid). */
export function pastaArgs(link: LinkPlan, proxyHostPort: number | null, euid: number): string[] {
  const args = ['-f', '-q', '--config-net', '-I', link.iface, '--no-map-gw', '--no-dhcp', '--no-dhcpv6', '--no-ra'];
  // As root pasta would switch to `nobody` before opening the jail's namespaces, which nobody may
  // not open; it drops its capabilities and confines itself either way.
  if (euid === 0) args.push('--runas', '0:0');
  if (link.ipv4) args.push('-a', link.ip4, '-n', String(link.mask4), '-g', link.gw4);
  if (link.ipv6) args.push('-a', link.ip6, '-g', link.gw6);
  if (!link.ipv4) args.push('-6');
  if (!link.ipv6) args.push('-4');
  if (!link.tcp) args.push('--no-tcp');
  if (!link.udp) args.push('--no-udp');
  if (!link.icmp) args.push('--no-icmp');
  if (link.dnsForward) args.push('--dns-forward', link.dnsForward);
  const tcpIn = link.publish.filter((p) => p.proto === 'tcp').map(portMap);
  const udpIn = link.publish.filter((p) => p.proto === 'udp').map(portMap);
  const tcpOut = [...link.tcpOut, ...(proxyHostPort === null ? [] : [`${PROXY_JAIL_PORT}:${proxyHostPort}`])];
  for (const [flag, list] of [['-t', tcpIn], ['-u', udpIn], ['-T', tcpOut], ['-U', link.udpOut]] as const) {
    if (list.length === 0) args.push(flag, 'none');
    for (const spec of list) args.push(flag, spec);
  }
  return args;
}

/**
 * Starts pasta for the jail whose init is `pid` and resolves once the jail's interface is up.
 * Rejects with a JailError saying why when pasta fails or is not up in time (pasta is then gone).
 * `pipe` makes a close-on-exec pipe ([read, write], the addon's): pasta writes its pid file,
 * `/proc/self/fd/3`, into it once the interface is configured, which is the signal; no file is
 * left anywhere when the supervisor is SIGKILLed.
 */
export function startLink(pasta: string, link: LinkPlan, ns: JailNamespaces, proxyHostPort: number | null, pipe: () => [number, number]): Promise<Link> {
  // The jail's namespaces as pasta's fds 4 and 5: opened by the launch before the jail changed
  // its ids, so pasta can enter them whatever uid the jail runs as now.
  const args = [...pastaArgs(link, proxyHostPort, process.geteuid?.() ?? -1), '-P', '/proc/self/fd/3', '--netns', '/proc/self/fd/4'];
  if (ns.userns >= 0) args.push('--userns', '/proc/self/fd/5');
  const [readFd, writeFd] = pipe();
  let child: ChildProcess;
  try {
    child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', pasta, ...args], { stdio: ['ignore', 'ignore', 'pipe', writeFd, ns.netns, ...(ns.userns >= 0 ? [ns.userns] : [])] });
  } catch (e) {
    fs.closeSync(readFd);
    throw new JailError('setup', `cannot start the jail's network link (${pasta}): ${(e as Error).message}`, { hint: PASTA_MISSING_HINT });
  } finally {
    fs.closeSync(writeFd);
  }
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString();
  });
  const exited = new Promise<string>((resolve) => {
    child.once('error', (e) => resolve(`could not run: ${e.message}`));
    // 'close': stderr has been read to its end, so the message has pasta's own words.
    child.once('close', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with status ${code}`));
  });
  // No waiting for pasta's end: its tap device takes the kernel ~20 ms to unregister, which a CLI
  // would otherwise spend before it exits. The kernel reaps it (or Node, in a long-lived process).
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stderr?.destroy();
    child.unref();
  };
  const why = (how: string) => {
    const said = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Failed to send')).join('; ');
    return `the jail's network link (pasta) ${how}${said ? `: ${said}` : ''}`;
  };
  const ready = new net.Socket({ fd: readFd, readable: true, writable: false });
  return new Promise<Link>((resolve, reject) => {
    const fail = (error: JailError) => {
      clearTimeout(timer);
      ready.destroy();
      stop();
      reject(error);
    };
    const timer = setTimeout(() => fail(new JailError('setup', why(`was not up after ${READY_TIMEOUT_MS} ms`), { hint: 'run with -v to see its command line' })), READY_TIMEOUT_MS);
    ready.once('data', () => {
      clearTimeout(timer);
      ready.destroy();
      resolve({ exited: exited.then(why), stop });
    });
    ready.on('error', () => {});
    void exited.then((how) => fail(new JailError('setup', why(how), { hint: hintFor(stderr) })));
  });
}

function hintFor(stderr: string): string {
  if (/tun/i.test(stderr)) {
    return (
      '/dev/net/tun must exist and be readable and writable by the user running jail (most distributions make it 0666: chmod 0666 /dev/net/tun); ' +
      'in a container: docker/podman run --device /dev/net/tun'
    );
  }
  if (/No external routable interface|External interface not usable/i.test(stderr)) {
    return (
      'this machine or container has no network interface with a route out, which the jail\'s link goes through ' +
      '(a container started with --network=none has none): give it a network, or run the jail with --net none'
    );
  }
  if (/user namespace|Permission denied/i.test(stderr)) return 'pasta must be able to open the jail\'s namespaces: run jail and pasta as the same user';
  return "see pasta's own words above; run with -v for its command line";
}
