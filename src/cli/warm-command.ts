/**
 * `jail warm`: a per-user supervisor for build/Release/jail_client (native/warm_client.cc has
 * the protocol). A cold `jail` spends most of its time starting Node and loading the CLI; this
 * process does that once, then runs each client's command line through the CLI's own main()
 * with a CliIO bound to the client's fds 0, 1, 2, environment and working directory, so output,
 * exit codes, logs and reports are the cold ones. Runs are concurrent, each its own jail.
 *
 * Confinement: the server serves only its own uid (SO_PEERCRED; the socket's directory is
 * 0700), so a client gains no identity it lacked. It also answers "run cold" to a client whose
 * process context differs from its own in anything a jail inherits from its supervisor
 * (namespaces, cgroup, capabilities, no_new_privs, seccomp, rlimits, umask, oom_score_adj,
 * LSM label): such a client, e.g. one already inside a sandbox, must not get a jail built from
 * this less confined process. And it answers "run cold" to command lines that need a process of
 * their own (io.ts RunCold). SIGINT/SIGTERM/SIGHUP/SIGQUIT stop it: no more runs, running jails
 * are killed (their clients exit 255), the socket is removed, and it exits 0.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Command } from 'commander';
import { JailError } from '../errors';
import { loadAddon } from '../native/addon';
import type { WarmRequest } from '../native/types';
import { signalName, signalNumber } from '../supervisor/report';
import { formatLogLine, makeLogger, type Logger } from '../supervisor/log';
import { RunCold, type CliIO } from './io';
import { onFatalSignals } from './signals';

/** The socket jail_client looks for: $JAIL_WARM_SOCKET, else $XDG_RUNTIME_DIR/jail/warm.sock, else /tmp/jail-<uid>/warm.sock. */
export function warmSocketPath(env: NodeJS.ProcessEnv): string {
  if (env.JAIL_WARM_SOCKET) return env.JAIL_WARM_SOCKET;
  if (env.XDG_RUNTIME_DIR?.startsWith('/')) return path.join(env.XDG_RUNTIME_DIR, 'jail', 'warm.sock');
  return `/tmp/jail-${process.getuid!()}/warm.sock`;
}

/** Makes the socket's directory (mode 0700) or checks that an existing one is this uid's alone. */
function privateDirectory(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const uid = process.getuid!();
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new JailError('flag', `jail warm: the socket directory ${dir} must be a directory owned by uid ${uid} with mode 0700 (it is ${st.isDirectory() ? `owned by uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}` : 'not a directory'})`, {
      hint: `another user may have made it: remove it, or give --socket in a directory of your own (e.g. $XDG_RUNTIME_DIR)`,
    });
  }
}

/** Resolves true when a server answers on `socket`; a refused connection means a stale socket. */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** What a jail inherits from the process that builds it, read from /proc/<pid>; one line per item. */
function confinement(pid: number | 'self'): string {
  const at = `/proc/${pid}`;
  const lines: string[] = [];
  for (const ns of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']) {
    try {
      lines.push(`ns ${ns} ${fs.readlinkSync(`${at}/ns/${ns}`)}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  const status = fs.readFileSync(`${at}/status`, 'utf8');
  for (const l of status.split('\n')) if (/^(Umask|NoNewPrivs|Seccomp|Seccomp_filters|Cap(Inh|Prm|Eff|Bnd|Amb)):/.test(l)) lines.push(l);
  lines.push(fs.readFileSync(`${at}/limits`, 'utf8'), fs.readFileSync(`${at}/cgroup`, 'utf8'), `oom ${fs.readFileSync(`${at}/oom_score_adj`, 'utf8')}`);
  try {
    lines.push(`lsm ${fs.readFileSync(`${at}/attr/current`, 'utf8')}`);
  } catch {
    // no LSM exposes a label here
  }
  return lines.join('\n');
}

/** The first item where `peer` differs from `own`, for the log. */
function firstDifference(own: string, peer: string): string {
  const a = own.split('\n');
  const b = peer.split('\n');
  const i = a.findIndex((l, k) => l !== b[k]);
  return (i < 0 ? b[a.length] : a[i]).split(/\s+/).slice(0, 2).join(' ');
}

/**
 * write(2) all of `text` to `fd`, as process.stdout does on a pipe or file: synchronously, in
 * order. A reader gone away (EPIPE) drops the text: one client's closed pipe must not throw
 * into the server, which serves other runs.
 */
function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      // The client's fd may be non-blocking (shared with another process that set O_NONBLOCK).
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** argv, env and cwd from a jail_client request body; null when malformed. */
export function parseBody(body: Buffer): { argv: string[]; env: NodeJS.ProcessEnv; cwd: string } | null {
  let at = 0;
  const str = (): string | null => {
    const end = body.indexOf(0, at);
    if (end < 0) return null;
    const s = body.toString('utf8', at, end);
    at = end + 1;
    return s;
  };
  const list = (): string[] | null => {
    if (at + 4 > body.length) return null;
    const n = body.readUInt32LE(at);
    at += 4;
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = str();
      if (s === null) return null;
      out.push(s);
    }
    return out;
  };
  const argv = list();
  const envList = list();
  const cwd = str();
  if (argv === null || envList === null || cwd === null || at !== body.length) return null;
  const env: NodeJS.ProcessEnv = {};
  for (const kv of envList) {
    const eq = kv.indexOf('=');
    // As Node builds process.env: the first of duplicate names wins, entries without '=' are dropped.
    if (eq > 0 && !(kv.slice(0, eq) in env)) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { argv, env, cwd };
}

/** The signals a client forwards (native/warm_client.cc), as src/cli/signals.ts catches them. */
const FATAL = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'].map((s) => signalNumber(s)!));

interface WarmFlags {
  socket?: string;
  idleTimeout?: string;
  quiet?: boolean;
}

export async function warmCommand(argv: string[], io: CliIO): Promise<number> {
  const cmd = new Command('jail warm')
    .description('keep a supervisor running that build/Release/jail_client hands its runs to (README "Warm supervisor")')
    .option('--socket <path>', 'listen here (default $XDG_RUNTIME_DIR/jail/warm.sock, else /tmp/jail-<uid>/warm.sock; clients: JAIL_WARM_SOCKET)')
    .option('--idle-timeout <sec>', 'exit after this many seconds without a run (default: never)')
    .option('-q, --quiet', 'log errors only')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  cmd.parse(argv, { from: 'user' });
  const f = cmd.opts() as WarmFlags;
  const idle = f.idleTimeout === undefined ? 0 : Number(f.idleTimeout);
  if (f.idleTimeout !== undefined && !(/^\d+$/.test(f.idleTimeout) && idle > 0)) {
    throw new JailError('flag', `--idle-timeout: '${f.idleTimeout}' is not a whole number of seconds >= 1`, { hint: 'e.g. --idle-timeout 600, or leave it out to run until SIGTERM' });
  }
  const log = makeLogger((e) => io.stderr(formatLogLine(e)), f.quiet ? 'error' : 'info');
  const socket = path.resolve(io.cwd, f.socket ?? warmSocketPath(io.env));
  privateDirectory(path.dirname(socket));
  if (fs.existsSync(socket)) {
    if (await answers(socket)) {
      throw new JailError('flag', `jail warm: a server already answers on ${socket}`, { hint: 'stop it first, or give another --socket' });
    }
    fs.unlinkSync(socket); // a dead server's
  }
  const server = await startWarmServer(socket, idle, log);
  const off = onFatalSignals((_n, name) => {
    log.info(`received ${name}: no more runs; killing ${server.active()} running`);
    server.close();
  });
  try {
    await server.closed;
    return 0;
  } finally {
    off();
  }
}

interface WarmServer {
  active(): number;
  close(): void;
  closed: Promise<void>;
}

async function startWarmServer(socket: string, idleSeconds: number, log: Logger): Promise<WarmServer> {
  const addon = loadAddon();
  const own = confinement('self');
  const uid = process.getuid!();
  // Each running client connection, with what ends its run when it goes away.
  const runs = new Set<net.Socket>();
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (idleSeconds > 0 && runs.size === 0) {
      idleTimer = setTimeout(() => {
        log.info(`no run for ${idleSeconds} s: exiting`);
        close();
      }, idleSeconds * 1000);
    }
  };

  // pauseOnConnect: libuv must not read, or it would drop the SCM_RIGHTS fds; warmReceive reads.
  const server = net.createServer({ pauseOnConnect: true }, (conn) => {
    clearTimeout(idleTimer);
    runs.add(conn);
    conn.on('error', () => {});
    conn.once('close', () => {
      runs.delete(conn);
      armIdle();
    });
    const fd = (conn as unknown as { _handle: { fd: number } })._handle.fd;
    addon.warmReceive(fd, (_e, r) => serveOne(conn, r));
  });

  function serveOne(conn: net.Socket, r: WarmRequest): void {
    if (r.uid !== uid) {
      log.warn(`refused a connection from uid ${r.uid} (pid ${r.pid}): this server runs jails for uid ${uid} only`);
      conn.destroy();
      return;
    }
    const fds = r.fds;
    if (r.error !== undefined || r.body === undefined || fds === undefined) {
      // No error: the peer closed without sending anything (another `jail warm` probing).
      if (r.error !== undefined) log.warn(`dropped a request from pid ${r.pid}: ${r.error}`);
      conn.destroy();
      return;
    }
    const closeFds = () => {
      for (const f of fds) fs.closeSync(f);
    };
    const answer = (code: number | 'cold') => {
      closeFds();
      const b = Buffer.alloc(code === 'cold' ? 1 : 5);
      b.write(code === 'cold' ? 'C' : 'X');
      if (code !== 'cold') b.writeInt32LE(code, 1);
      conn.end(b);
    };
    const req = parseBody(r.body);
    if (req === null) {
      log.warn(`dropped a request from pid ${r.pid}: malformed body`);
      closeFds();
      conn.destroy();
      return;
    }
    let peer: string;
    try {
      peer = confinement(r.pid);
    } catch (e) {
      log.warn(`pid ${r.pid} runs cold: cannot read its /proc entries: ${(e as Error).message}`);
      return answer('cold');
    }
    if (peer !== own) {
      log.info(`pid ${r.pid} runs cold: its ${firstDifference(own, peer)} differs from this server's`);
      return answer('cold');
    }

    // The client's signals (one byte each) and its going away reach the run's handlers, as the
    // process's signals reach a cold CLI's (src/cli/signals.ts).
    const handlers = new Set<(n: number, name: NodeJS.Signals) => void>();
    let done = false;
    conn.on('data', (bytes: Buffer) => {
      for (const n of bytes) if (FATAL.has(n)) for (const h of handlers) h(n, signalName(n) as NodeJS.Signals);
    });
    // A client killed (even by SIGKILL) takes its jail with it, as a cold CLI's death does.
    conn.once('close', () => {
      if (!done) for (const h of handlers) h(9, 'SIGKILL');
    });
    conn.resume();
    const io: CliIO = {
      stdout: (t) => writeAll(fds[1], t),
      stderr: (t) => writeAll(fds[2], t),
      readStdin: () => Promise.reject(new RunCold('stdin')),
      env: req.env,
      cwd: req.cwd,
      fd: (n) => {
        if (n < 0 || n > 2) throw new RunCold(`fd ${n}`);
        return fds[n];
      },
      onFatalSignals: (h) => {
        handlers.add(h);
        return () => handlers.delete(h);
      },
      ownsProcess: false,
    };
    // Required here: main.ts loads this module lazily, so a top-level import would be circular.
    const { main } = require('./main') as typeof import('./main');
    main(req.argv, io).then(
      (code) => {
        done = true;
        answer(code);
      },
      (e: unknown) => {
        done = true;
        if (e instanceof RunCold) return answer('cold');
        log.error(`run of pid ${r.pid} failed: ${(e as Error).stack ?? String(e)}`);
        answer(255);
      },
    );
  }

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  function close() {
    clearTimeout(idleTimer);
    server.close(() => resolveClosed());
    // Their handlers kill the jails; the clients see no exit status and exit 255.
    for (const c of runs) c.destroy();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new JailError('flag', `jail warm: cannot listen on ${socket}: ${e.code ?? e.message}`, { hint: 'give --socket a path in a directory of your own' })),
    );
    server.listen(socket, () => resolve());
  });
  log.info(`warm supervisor for uid ${uid} on ${socket}${idleSeconds > 0 ? `, exits after ${idleSeconds} s idle` : ''}`);
  armIdle();
  return { active: () => runs.size, close, closed };
}
