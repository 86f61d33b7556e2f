/**
 * LISTEN mode (nsjail's -Ml): a TCP server that runs one jail per connection, with the
 * connection's socket as the jail's stdin, stdout and stderr. Each jail is an ordinary
 * supervise() run (time limit, cgroups, cleanup as in ONCE); `max_conns` and `max_conns_per_ip`
 * bound the jails alive at once, and a connection over a limit is closed at once and logged.
 */
import * as net from 'node:net';
import { JailError, listenError } from '../errors';
import { loadAddon } from '../native/addon';
import { jailPlanner, libraryLogger, resolveConfig, type RunOptions } from '../run';
import { SIGKILL } from '../sandbox/kernel';
import type { Logger } from '../supervisor/log';
import type { ExitReport } from '../supervisor/report';
import type { JailStdio } from '../supervisor/stdio';
import { supervise, type JailHandle } from '../supervisor/supervise';

export interface ListenOptions extends Pick<RunOptions, 'command' | 'config' | 'env' | 'cwd' | 'onLog' | 'logLevel'> {
  /** TCP port (default: the config's `port`; 0 = a free port the kernel picks, see Listener.port). */
  port?: number;
  /** Address to listen on (default: the config's `bindhost`, `::`, which takes IPv4 and IPv6). */
  host?: string;
  /** Most jails alive at once (default: the config's `max_conns`; 0 = no limit). */
  maxConns?: number;
  /** Most jails alive at once for one client address (default: `max_conns_per_ip`; 0 = no limit). */
  maxConnsPerIp?: number;
  /** Called as each jail ends, with its report (`peer` says whose connection it served). */
  onReport?: (report: ExitReport) => void;
  /** Aborting does what close() does. */
  signal?: AbortSignal;
}

export interface Listener {
  /** The port listened on (the kernel's choice when 0 was asked for). */
  readonly port: number;
  /** The address listened on (an IPv4 address is listened on as `::ffff:a.b.c.d`, as nsjail). */
  readonly host: string;
  /** Jails alive now. */
  readonly active: number;
  /**
   * Stops accepting, sends `signal` (default SIGKILL) to every jail, and resolves once every
   * jail has ended and been cleaned up. A jail sent another signal may run on until it exits or
   * its time limit passes.
   */
  close(signal?: number): Promise<void>;
  /** Resolves when the listener has closed (close(), the abort signal, or a server error). */
  readonly closed: Promise<void>;
}

/** One connection's jail while it is alive. */
interface Connection {
  address: string;
  /** Kills or signals it, whether or not it has started yet. */
  stop(signal: number): void;
  done: Promise<void>;
}

function count(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new JailError('usage', `${name}: ${value} is not a count; give a whole number >= 0 (0 = no limit)`);
  }
  return value;
}

/** The address to bind, as nsjail: an IPv4 address becomes its IPv4-mapped IPv6 form. */
export function listenAddress(host: string): string {
  const family = net.isIP(host);
  if (family === 4) return `::ffff:${host}`;
  if (family === 6) return host;
  throw new JailError('usage', `bindhost: '${host}' is not an IP address; give an IPv4 or IPv6 address such as 127.0.0.1, ::1 or :: (every address)`);
}

/** `[address]:port`, nsjail's way of writing a connection's end. */
function endpoint(address: string | undefined, port: number | undefined): string {
  return `[${address ?? 'unknown'}]:${port ?? 0}`;
}

/**
 * The connection's socket as the jail's three standard streams. This process never reads or
 * writes it: the jail gets its own copies at launch, and ours is closed right after, so the
 * connection ends when the jail's last process does.
 */
function socketStdio(socket: net.Socket): JailStdio {
  // Node exposes neither a socket's fd nor its blocking mode publicly; both are stable on the
  // handle of a TCP socket (libuv's uv_fileno, uv_stream_set_blocking).
  const handle = (socket as unknown as { _handle?: { fd?: number; setBlocking?: (on: boolean) => number } })._handle;
  const fd = handle?.fd;
  if (handle === undefined || typeof fd !== 'number' || fd < 0 || typeof handle.setBlocking !== 'function') {
    throw new JailError('internal', "LISTEN: this Node version does not expose an accepted socket's file descriptor", { hint: 'use Node 20 or newer' });
  }
  // libuv accepts sockets non-blocking, and the flag is shared with the jail's copies: a plain
  // `read(0)` in the jail would fail with EAGAIN.
  const err = handle.setBlocking(true);
  if (err !== 0) throw new JailError('internal', `LISTEN: cannot make the connection's socket blocking (libuv error ${err})`);
  const close = () => void socket.destroy();
  return { fds: [fd, fd, fd], stdin: null, stdout: null, stderr: null, closeChildEnds: close, finish: async () => ({}), destroy: close };
}

export function listen(options: ListenOptions = {}): Promise<Listener> {
  return listenWith(options, libraryLogger(options));
}

/** listen() with the CLI's logger. */
export async function listenWith(options: ListenOptions, log: Logger): Promise<Listener> {
  const cwd = options.cwd ?? process.cwd();
  const loaded = resolveConfig(options.config, cwd);
  const c = loaded.config;
  const port = options.port ?? c.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new JailError('usage', `port: ${port} is not a TCP port; give 1..65535, or 0 for a free port the kernel picks`);
  }
  const maxConns = count('maxConns', options.maxConns ?? c.maxConns);
  const maxConnsPerIp = count('maxConnsPerIp', options.maxConnsPerIp ?? c.maxConnsPerIp);
  const host = listenAddress(options.host ?? c.bindhost);
  // Everything a jail needs is checked before the port opens; later plans reuse the policy.
  const planner = jailPlanner({ ...options, config: loaded, cwd, modes: ['ONCE', 'LISTEN'] });
  for (const w of planner.first.warnings) log.warn(w);
  let firstPlan: typeof planner.first | null = planner.first;
  const addon = loadAddon();

  const live = new Set<Connection>();
  let closing: Promise<void> | null = null;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const server = net.createServer({ pauseOnConnect: true });

  const refuse = (socket: net.Socket, peer: string): boolean => {
    if (maxConns > 0 && live.size >= maxConns) {
      log.warn(`Rejecting connection from '${peer}', max_conns limit reached: ${maxConns}`);
      return true;
    }
    if (maxConnsPerIp > 0 && [...live].filter((j) => j.address === socket.remoteAddress).length >= maxConnsPerIp) {
      log.warn(`Rejecting connection from '${peer}', max_conns_per_ip limit reached: ${maxConnsPerIp}`);
      return true;
    }
    return false;
  };

  const serve = (socket: net.Socket, peer: string) => {
    const abort = new AbortController();
    let handle: JailHandle | undefined;
    const conn: Connection = {
      address: socket.remoteAddress ?? '',
      // Before the program runs there is nothing to signal but the setup: that is killed.
      stop: (signal) => (handle && signal !== SIGKILL ? handle.kill(signal) : abort.abort()),
      done: Promise.resolve(),
    };
    live.add(conn);
    conn.done = (async () => {
      try {
        const planned = firstPlan ?? planner.next();
        firstPlan = null;
        const { report } = await supervise(addon, planned, {
          timeLimit: c.timeLimit,
          stdio: socketStdio(socket),
          log,
          signal: abort.signal,
          onStart: (h) => {
            handle = h;
            log.info(`pid=${h.pid} serves ${peer}`);
          },
        });
        report.peer = peer;
        options.onReport?.(report);
      } catch (e) {
        log.error(`connection from ${peer}: ${(e as Error).message}`);
      } finally {
        socket.destroy();
        live.delete(conn);
      }
    })();
  };

  server.on('connection', (socket: net.Socket) => {
    const peer = endpoint(socket.remoteAddress, socket.remotePort);
    log.info(`New connection from: ${peer} on: ${endpoint(socket.localAddress, socket.localPort)}`);
    if (closing || refuse(socket, peer)) socket.destroy();
    else serve(socket, peer);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(listenError(endpoint(host, port), e)));
    // ipv6Only false: `::` takes IPv4 clients too (as ::ffff:a.b.c.d), as nsjail's socket does.
    server.listen({ host, port, ipv6Only: false, backlog: 511 }, () => resolve());
  });
  const bound = (server.address() as net.AddressInfo).port;
  log.info(`Listening on ${endpoint(host, bound)}`);

  const close = (signal = SIGKILL): Promise<void> => {
    closing ??= (async () => {
      options.signal?.removeEventListener('abort', onAbort);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of live) conn.stop(signal);
      await Promise.all([stopped, ...[...live].map((j) => j.done)]);
      markClosed();
    })();
    return closing;
  };
  const onAbort = () => void close();
  server.on('error', (e) => {
    log.error(`listener on ${endpoint(host, bound)} failed: ${e.message}`);
    void close();
  });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  return {
    port: bound,
    host,
    get active() {
      return live.size;
    },
    close,
    closed,
  };
}
