/**
 * `serve()`: one long-running supervisor that takes runs over HTTP (docs/serve.md), so a
 * pipeline in any language pays a jail's start-up per snippet, not Node's. Each run is an
 * ordinary run of a plan (runPlanned, as run() and rerun()); the server's config is checked and
 * its policy compiled once, and a request can only narrow it (request.ts).
 *
 * Bounds: a body size, a files count, output per stream, the time limit, runs at once
 * (`maxConcurrent`) and runs waiting (`queue`; beyond it 429 + Retry-After). A client that
 * disconnects aborts its run (the jail is killed); close() stops accepting, lets running jails
 * finish for a grace period, then kills them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { JailError, formatError, listenError } from '../errors';
import { configFromObject } from '../config/load';
import type { Config, LoadedConfig } from '../config/types';
import { compileConfigPolicy, libraryLogger, planJail, resolveConfig, runPlanned, type ConfigInput, type RunOptions } from '../run';
import { buildPlan } from '../sandbox';
import type { Logger } from '../supervisor/log';
import { availableLanguages } from './languages';
import { OPENAPI } from './openapi';
import { parseRunRequest, RequestError, type RequestLimits, type RunRequest } from './request';
import { createRunDir, createRunRoot, removeDir } from './rundir';

/**
 * The server's config when none is given: the host's root read-only, a small writable /tmp (the
 * run's files are bound below it), no network, 10 s per run.
 */
export const DEFAULT_SERVE_CONFIG = {
  time_limit: 10,
  mount: [
    { src: '/', dst: '/', is_bind: true },
    { dst: '/tmp', fstype: 'tmpfs', rw: true, options: 'size=64m' },
  ],
};

export interface ServeOptions extends Pick<RunOptions, 'env' | 'cwd' | 'onLog' | 'logLevel'> {
  /** The jail every run gets and the widest a request may ask for (default DEFAULT_SERVE_CONFIG). */
  config?: ConfigInput;
  /** TCP address (default 127.0.0.1); anything but loopback needs `token`. */
  host?: string;
  /** TCP port (default 0: a free port the kernel picks, see Server.port). */
  port?: number;
  /** Listen on this unix socket instead of TCP (created mode 0600; it must not exist). */
  socket?: string;
  /** Clients must send `Authorization: Bearer <token>`. */
  token?: string;
  /** Runs at once (default 2 per CPU). */
  maxConcurrent?: number;
  /** Runs waiting for a slot; more get 429 (default 64). */
  queue?: number;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Most files per run (default 64). */
  maxFiles?: number;
  /** Cap per captured stream in bytes (default 1 MiB); beyond it output is dropped and `truncated` set. */
  maxOutputBytes?: number;
  /** Where a run's files appear in the jail, read-only; its working directory then (default /tmp/run). */
  workdir?: string;
  /** Environment variable names a request may set through config.envar. */
  envAllow?: string[];
  /** How long close() lets running jails finish before killing them (default 10 s). */
  graceMs?: number;
  /** Aborting does what close() does. */
  signal?: AbortSignal;
}

export interface Server {
  /** `http://127.0.0.1:PORT` or `unix:/path/to.sock`. */
  readonly url: string;
  /** The TCP address and port, or null on a unix socket. */
  readonly address: string | null;
  readonly port: number | null;
  /** The unix socket's path, or null on TCP. */
  readonly socket: string | null;
  /** Runs going on now, and waiting for a slot. */
  readonly active: number;
  readonly queued: number;
  /**
   * Stops accepting, answers queued requests 503, lets running jails finish for `graceMs`
   * (default: the option), then kills them; resolves once all are cleaned up. Called again
   * with 0 while closing, it ends the grace period at once.
   */
  close(graceMs?: number): Promise<void>;
  /** Resolves when the server has closed. */
  readonly closed: Promise<void>;
}

const MiB = 1024 * 1024;

function positive(name: string, value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new JailError('usage', `${name}: ${value} is not ${what}; give a whole number >= 1`);
  return value;
}

/** Loopback addresses, where a token is optional (anyone who can connect is on this machine). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return (net.isIPv4(v4) && v4.startsWith('127.')) || host === '::1';
}

/** Compares hashes, so the time taken says nothing about the token (not even its length). */
function tokenCheck(token: string): (header: string | undefined) => boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = digest(token);
  return (header) => timingSafeEqual(digest(/^Bearer (.*)$/.exec(header ?? '')?.[1] ?? ''), expected);
}

/** Runs at once and a bounded queue of runs waiting for a slot. */
class Slots {
  private active = 0;
  private readonly waiting: { start: () => void; fail: (e: Error) => void }[] = [];

  constructor(
    readonly max: number,
    readonly queue: number,
  ) {}

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is free; 429 when the queue is full. */
  acquire(signal: AbortSignal): Promise<() => void> {
    const release = () => {
      const next = this.waiting.shift();
      if (next) next.start();
      else this.active--;
    };
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve(release);
    }
    if (this.waiting.length >= this.queue) {
      const message = `busy: ${this.active} runs going on and ${this.waiting.length} waiting (the server's limits); retry later`;
      return Promise.reject(new RequestError(429, message, { 'Retry-After': '1' }));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          signal.removeEventListener('abort', drop);
          resolve(release);
        },
        fail: (e: Error) => {
          signal.removeEventListener('abort', drop);
          reject(e);
        },
      };
      // A client gone while waiting leaves the queue (if a shutdown has not emptied it already).
      const drop = () => {
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal.reason);
      };
      this.waiting.push(entry);
      signal.addEventListener('abort', drop, { once: true });
    });
  }

  /** Refuses every waiting request (at shutdown). */
  failWaiting(e: Error): void {
    for (const w of this.waiting.splice(0)) w.fail(e);
  }
}

/**
 * Web pages must not drive the server. A browser sends `Origin` with every POST (cross-origin
 * or not) and may reach a loopback server under another name by DNS rebinding, which shows in
 * `Host`. So a request with an Origin is refused, and over TCP the Host must be the address the
 * server listens on (or localhost), unless that is a wildcard address (which needs a token). Programs (curl, requests, net/http) send no Origin.
 */
function browserGuard(req: http.IncomingMessage, where: Where | undefined): void {
  if (req.headers.origin !== undefined) {
    throw new RequestError(403, `requests from web pages are refused (Origin: ${req.headers.origin}); call the API from a program`);
  }
  if (where === undefined || where.socket) return;
  // On a wildcard address the server is reached under whatever name routes to it (a container's
  // published port, a Kubernetes service); such a server always has a token, which a page cannot
  // send, so the Host check (against DNS rebinding of tokenless loopback servers) is not needed.
  if (where.address === '0.0.0.0' || where.address === '::') return;
  const host = (req.headers.host ?? '').toLowerCase();
  const ok = [`${where.address}:${where.port}`, `[${where.address}]:${where.port}`, `localhost:${where.port}`];
  if (!ok.includes(host)) {
    throw new RequestError(403, `Host: '${req.headers.host ?? ''}' is not this server (${ok.join(' or ')}); a client that sends another Host is refused, which also stops DNS rebinding`);
  }
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const tooLarge = () => new RequestError(413, `request body: larger than ${max} bytes (the server's limit); send less, or start the server with a larger --max-body`);
  if (Number(req.headers['content-length']) > max) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        reject(tooLarge());
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Errors that are the request's fault (its command or config), not the server's. */
const CLIENT_ERRORS = new Set(['config', 'usage', 'not-found', 'flag', 'policy']);

export function serve(options: ServeOptions = {}): Promise<Server> {
  return serveWith(options, libraryLogger(options));
}

/** serve() with the CLI's logger. */
export async function serveWith(options: ServeOptions, log: Logger): Promise<Server> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token === undefined ? undefined : tokenCheck(options.token);
  if (options.token !== undefined && options.token.trim() === '') throw new JailError('usage', 'token: empty; put a long random string in the token file (e.g. `openssl rand -hex 32 > token`)');
  if (options.socket === undefined && !isLoopback(host) && token === undefined) {
    throw new JailError('usage', `listening on ${host} needs a token: anyone who can reach that address could run code`, {
      hint: 'give --token-file FILE (clients then send "Authorization: Bearer <token>"), or listen on 127.0.0.1 or a --socket',
    });
  }
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const loaded: LoadedConfig = resolveConfig(options.config ?? DEFAULT_SERVE_CONFIG, cwd);
  // Everything but the command is checked before the server listens; the policy is compiled once.
  for (const w of planJail({ config: loaded, command: null, cwd, env }).warnings) log.warn(w);
  const filter = compileConfigPolicy(loaded, cwd);
  const base = loaded.config;

  const workdir = options.workdir ?? '/tmp/run';
  // The run directory's mount, with the config's defaults; each run fills in its own src.
  const workMount = configFromObject({ mount: [{ src: '/', dst: workdir, is_bind: true, is_dir: true, nodev: true, nosuid: true }] }, 'workdir').config.mount[0];
  const limits: RequestLimits = {
    base,
    languages: availableLanguages(env),
    maxFiles: positive('maxFiles', options.maxFiles ?? 64, 'a count of files'),
    envAllow: new Set(options.envAllow ?? []),
    maxOutputBytes: positive('maxOutputBytes', options.maxOutputBytes ?? MiB, 'a size in bytes'),
  };
  const maxBody = positive('maxBodyBytes', options.maxBodyBytes ?? MiB, 'a size in bytes');
  const slots = new Slots(
    positive('maxConcurrent', options.maxConcurrent ?? 2 * os.availableParallelism(), 'a count of runs'),
    options.queue ?? 64,
  );
  if (!Number.isInteger(slots.queue) || slots.queue < 0) throw new JailError('usage', `queue: ${slots.queue} is not a count; give a whole number >= 0 (0 = no waiting)`);
  const graceMs = options.graceMs ?? 10_000;
  const runRoot = await createRunRoot();

  /** Runs under way, for close(). */
  const running = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  let closing: Promise<void> | null = null;

  const runJail = async (r: RunRequest, signal: AbortSignal) => {
    const dir = r.files.length > 0 ? await createRunDir(runRoot, r.files) : null;
    try {
      const config: Config = { ...base, ...r.narrowed, ...(dir ? { mount: [...base.mount, { ...workMount, src: dir }], cwd: workdir } : {}) };
      const planned = buildPlan({ ...loaded, config }, { command: r.command, env, cwd, filter });
      const result = await runPlanned(planned, config.timeLimit, { stdin: r.stdin, maxOutputBytes: r.maxOutputBytes, signal }, log);
      const { stdout, stderr, stdoutTruncated, stderrTruncated, ...report } = result;
      return { report, stdout: stdout ?? '', stderr: stderr ?? '', truncated: Boolean(stdoutTruncated || stderrTruncated) };
    } finally {
      if (dir) await removeDir(dir);
    }
  };

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    // A 413 leaves unread body on the connection, and a closing server takes no more requests.
    const close = status === 413 || closing !== null;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(close ? { connection: 'close' } : {}), ...headers });
    res.end(text);
  };

  const shuttingDown = () => new RequestError(503, 'the server is shutting down and takes no more runs; retry on a running server');

  const handleRun = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const r = parseRunRequest(await readBody(req, maxBody), limits);
    // close() may have begun while the body arrived: no jail may start after it counted them.
    if (closing) throw shuttingDown();
    const abort = new AbortController();
    // The response's close before it finished means the client went away: kill its jail.
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('the client disconnected'));
    });
    const release = await slots.acquire(abort.signal);
    const entry = { abort, done: Promise.resolve() as Promise<unknown> };
    try {
      if (abort.signal.aborted) return;
      if (closing) throw shuttingDown();
      entry.done = runJail(r, abort.signal);
      running.add(entry);
      send(res, 200, await entry.done);
    } finally {
      running.delete(entry);
      release();
    }
  };

  const endpoints = 'GET /v1/health, GET /v1/openapi.json, POST /v1/run';
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    try {
      if (token && !token(req.headers.authorization)) {
        throw new RequestError(401, 'missing or wrong token: send "Authorization: Bearer <token>" with the token in the server\'s --token-file', { 'WWW-Authenticate': 'Bearer' });
      }
      browserGuard(req, where);
      const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
      if (route === 'GET /v1/health') {
        send(res, 200, { status: closing ? 'closing' : 'ok', active: slots.running, queued: slots.queued, maxConcurrent: slots.max, queue: slots.queue, languages: [...limits.languages.keys()] });
      } else if (route === 'GET /v1/openapi.json') {
        send(res, 200, OPENAPI);
      } else if (route === 'POST /v1/run') {
        if (closing) throw shuttingDown();
        await handleRun(req, res);
      } else {
        throw new RequestError(404, `no endpoint ${route}; the endpoints are ${endpoints}`);
      }
    } catch (e) {
      if (e instanceof RequestError) send(res, e.status, { error: e.message }, e.headers);
      else if (e instanceof JailError && CLIENT_ERRORS.has(e.code)) send(res, 400, { error: formatError(e) });
      else if (!res.destroyed) {
        log.error(`POST /v1/run: ${formatError(e)}`);
        send(res, 500, { error: formatError(e) });
      }
    }
  };

  const server = http.createServer((req, res) => void handle(req, res));
  // Each connection may hold a body of up to maxBody before the queue is consulted: bound them
  // (runs, waiting requests, and as many again arriving), so memory stays bounded too.
  server.maxConnections = 2 * (slots.max + slots.queue) + 16;
  const listening = options.socket === undefined ? listenTcp(server, host, options.port ?? 0) : listenUnix(server, options.socket);
  const where = await listening.catch(async (e) => {
    await removeDir(runRoot);
    throw e;
  });
  log.info(`jail serve: listening on ${where.url}`);

  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  let endGrace: (() => void) | undefined;
  const close = (grace = graceMs): Promise<void> => {
    if (closing) {
      if (grace === 0) endGrace?.();
      return closing;
    }
    closing = (async () => {
      options.signal?.removeEventListener('abort', onAbort);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      slots.failWaiting(new RequestError(503, 'the server shut down before this run started; retry on a running server'));
      const drained = Promise.all([...running].map((r) => r.done.catch(() => {})));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        drained,
        new Promise<void>((resolve) => {
          endGrace = resolve;
          timer = setTimeout(resolve, grace);
        }),
      ]);
      clearTimeout(timer);
      if (running.size > 0) log.warn(`jail serve: killing ${running.size} run(s) still going after the ${grace} ms grace period`);
      for (const r of running) r.abort.abort(new Error('the server is shutting down'));
      await drained;
      server.closeAllConnections();
      await stopped;
      if (options.socket !== undefined) await fsp.rm(options.socket, { force: true });
      await removeDir(runRoot);
      markClosed();
    })();
    return closing;
  };
  const onAbort = () => void close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  return {
    ...where,
    get active() {
      return slots.running;
    },
    get queued() {
      return slots.queued;
    },
    close,
    closed,
  };
}

type Where = Pick<Server, 'url' | 'address' | 'port' | 'socket'>;

function listenTcp(server: http.Server, host: string, port: number): Promise<Where> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return Promise.reject(new JailError('usage', `port: ${port} is not a TCP port; give 1..65535, or 0 for a free port the kernel picks`));
  }
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(listenError(`${host}:${port}`, e)));
    server.listen({ host, port }, () => {
      const a = server.address() as net.AddressInfo;
      const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({ url: `http://${shown}:${a.port}`, address: a.address, port: a.port, socket: null });
    });
  });
}

/**
 * A unix socket that nobody else can ever connect to: it is created in a fresh 0700 directory,
 * made 0600, and only then renamed into place (a chmod after listen() would leave a window).
 */
async function listenUnix(server: http.Server, socket: string): Promise<Where> {
  const target = path.resolve(socket);
  const exists = await fsp.lstat(target).then(
    () => true,
    () => false,
  );
  if (exists) throw new JailError('usage', `socket: ${target} exists; remove it if no server uses it, or give another path`);
  const dir = await fsp.mkdtemp(path.join(path.dirname(target), '.jail-serve-')).catch((e: NodeJS.ErrnoException) => {
    throw new JailError('usage', `socket: cannot create ${target}: ${e.code ?? e.message}; give a path in a directory you can write`);
  });
  try {
    const temp = path.join(dir, 's');
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(listenError(target, e)));
      server.listen(temp, () => resolve());
    });
    await fsp.chmod(temp, 0o600);
    await fsp.rename(temp, target);
    return { url: `unix:${target}`, address: null, port: null, socket: target };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
