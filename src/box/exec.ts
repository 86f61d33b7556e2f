/**
 * `box exec`: a program started by the box's init (native/box_init.cc has the protocol), so it
 * runs with exactly the box's confinement. The request carries the caller's stdin, stdout and
 * stderr (or pipes for captured output, or a new pseudo-terminal for a shell).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type * as net from 'node:net';
import { JailError } from '../errors';
import { loadAddon } from '../native/addon';
import { openStdio, type InputOption, type OutputOption } from '../supervisor/stdio';
import { errnoName, ENOENT } from '../supervisor/errno';
import { signalName, signalNumber } from '../supervisor/report';
import { BOX_HOME, WORKSPACE } from './layout';
import { BoxPaths, boxState, readRecord } from './store';

const FLAG_TTY = 1;
const { ECONNREFUSED } = os.constants.errno;

export interface BoxExecOptions {
  /** Default 'ignore'. */
  stdin?: InputOption;
  /** Default 'capture'. */
  stdout?: OutputOption;
  /** Default 'capture'. */
  stderr?: OutputOption;
  maxOutputBytes?: number;
  encoding?: BufferEncoding | 'buffer';
  /** Variables over the box's defaults (PATH, HOME, USER, LANG, TERM, then the image's Env). */
  env?: Record<string, string>;
  /** Working directory inside the box (default /workspace, or the home without a workspace). */
  cwd?: string;
  /** Aborting kills the program (its whole process group). */
  signal?: AbortSignal;
  /** Internal: the stdio fds are a terminal's (the program gets it as its controlling terminal). */
  tty?: boolean;
  /** Called once the program runs: its pid in the box, and a way to signal its process group. */
  onStart?: (started: { pid: number; kill(signal: NodeJS.Signals | number): void }) => void;
}

export interface BoxExecResult {
  /** The exit status, or 128 + signal as a shell reports it. */
  exitCode: number;
  /** The signal that ended it, if one did. */
  signal: string | null;
  /** Its pid inside the box. */
  pid: number;
  durationMs: number;
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
}

/** The environment every exec starts from. */
export function baseEnv(term?: string): Record<string, string> {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: BOX_HOME, USER: 'user', LOGNAME: 'user', LANG: 'C.UTF-8', ...(term ? { TERM: term } : {}) };
}

export function encodeRequest(argv: string[], env: Record<string, string>, cwd: string, tty: boolean): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    parts.push(b);
  };
  const str = (s: string) => {
    if (s.includes('\0')) throw new JailError('usage', `box exec: ${JSON.stringify(s)} contains a NUL byte`, { hint: 'arguments, variables and paths cannot hold NUL' });
    parts.push(Buffer.from(`${s}\0`));
  };
  u32(tty ? FLAG_TTY : 0);
  str(cwd);
  u32(argv.length);
  argv.forEach(str);
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  u32(vars.length);
  vars.forEach(str);
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.write('JBX1');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** The init's replies, read off the connection. */
class Replies {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;
  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    const end = () => {
      this.ended = true;
      this.wake();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async next(): Promise<{ tag: string; value: number } | null> {
    while (this.buf.length < 5) {
      if (this.ended) return null;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const reply = { tag: String.fromCharCode(this.buf[0]), value: this.buf.readInt32LE(1) };
    this.buf = this.buf.subarray(5);
    return reply;
  }
}

function notRunning(name: string, state: string): JailError {
  return new JailError('usage', `box '${name}' is ${state}, not running`, { hint: `start it with jail box start ${name} (or jail box up ${name})` });
}

/** Runs argv in the running box `name`. */
export async function execInBox(name: string, argv: string[], options: BoxExecOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<BoxExecResult> {
  if (argv.length === 0) throw new JailError('usage', 'box exec: no command given', { hint: 'jail box exec NAME -- cmd args..., or jail box shell NAME' });
  const paths = new BoxPaths(name, env);
  const record = readRecord(paths);
  const { state } = boxState(paths);
  if (state !== 'running') throw notRunning(name, state);
  const addon = loadAddon();
  const stdio = openStdio(addon, { stdin: options.stdin ?? 'ignore', stdout: options.stdout ?? 'capture', stderr: options.stderr ?? 'capture', maxOutputBytes: options.maxOutputBytes ?? 10 << 20 });
  let devNull = -1;
  const started = process.hrtime.bigint();
  const cwd = options.cwd ?? (record.workspace ? WORKSPACE : BOX_HOME);
  let fd: number;
  try {
    const fds = stdio.fds.map((f) => (f >= 0 ? f : devNull >= 0 ? devNull : (devNull = fs.openSync('/dev/null', 'r+')))) as [number, number, number];
    fd = addon.boxConnect(paths.socket, encodeRequest(argv, { ...baseEnv(env.TERM), ...record.imageEnv, ...options.env }, cwd, options.tty === true), fds);
  } catch (e) {
    stdio.destroy();
    const code = (e as NodeJS.ErrnoException & { errno?: number }).errno;
    if (code === ENOENT || code === ECONNREFUSED) throw notRunning(name, 'stopping or broken');
    throw e;
  } finally {
    if (devNull >= 0) fs.closeSync(devNull);
  }
  // The init holds the program's ends now.
  stdio.closeChildEnds();
  const { Socket } = require('node:net') as typeof net;
  const sock = new Socket({ fd, readable: true, writable: true });
  const replies = new Replies(sock);
  const send = (sig: number) => {
    const msg = Buffer.alloc(5);
    msg.write('K');
    msg.writeInt32LE(sig, 1);
    sock.write(msg);
  };
  const onAbort = () => send(signalNumber('SIGKILL')!);
  try {
    const first = await replies.next();
    if (first === null) throw new JailError('setup', `box '${name}': its init closed the connection before starting ${argv[0]}`, { hint: `jail box status ${name}; its log: jail box logs ${name}` });
    if (first.tag === 'C') {
      throw new JailError('usage', `box '${name}': cannot use ${JSON.stringify(cwd)} as the working directory: ${errnoName(first.value)}`, { hint: 'give a directory that exists in the box (-w, cwd)' });
    }
    if (first.tag === 'E') {
      const what = errnoName(first.value);
      throw new JailError('usage', `box '${name}': cannot run ${JSON.stringify(argv[0])}: ${what}`, {
        hint: first.value === ENOENT ? `no such program in the box (PATH is searched; jail box exec ${name} -- ls /usr/bin)` : 'check the program and working directory exist in the box',
      });
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const pid = first.value;
    options.onStart?.({ pid, kill: (sig) => send(typeof sig === 'number' ? sig : signalNumber(sig) ?? 9) });
    const end = await replies.next();
    if (end === null || end.tag !== 'X') throw new JailError('setup', `box '${name}' stopped while ${argv[0]} ran (pid ${pid} in the box)`, { hint: `jail box logs ${name}` });
    const status = end.value;
    const sigNo = status & 0x7f;
    const result: BoxExecResult = {
      exitCode: sigNo === 0 ? (status >> 8) & 0xff : 128 + sigNo,
      signal: sigNo === 0 ? null : signalName(sigNo),
      pid,
      durationMs: Number(process.hrtime.bigint() - started) / 1e6,
    };
    const out = await stdio.finish(2000);
    const enc = options.encoding ?? 'utf8';
    for (const key of ['stdout', 'stderr'] as const) {
      const c = out[key];
      if (!c) continue;
      result[key] = enc === 'buffer' ? c.data : c.data.toString(enc);
      result[key === 'stdout' ? 'stdoutTruncated' : 'stderrTruncated'] = c.truncated;
    }
    return result;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    sock.destroy();
    stdio.destroy();
  }
}

