/**
 * The jail's standard streams: inherit the caller's, /dev/null, a pipe handed to the caller as a
 * Node stream, a capture buffer with a byte cap, or a fixed input.
 */
import type * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { JailError } from '../errors';
import type { NativeAddon } from '../native/types';

export type InputOption = 'inherit' | 'ignore' | 'pipe' | number | string | Uint8Array;
export type OutputOption = 'inherit' | 'ignore' | 'pipe' | 'capture' | number;

/** Output captured from the jail; `truncated` when it exceeded the byte cap (the rest was read and dropped). */
export interface Captured {
  data: Buffer;
  truncated: boolean;
}

export interface JailStdio {
  /** Host fds for the jail's 0, 1, 2 (-1 = /dev/null). */
  fds: [number, number, number];
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** Closes the jail's ends in this process once the jail holds them. */
  closeChildEnds(): void;
  /** Resolves when every captured or piped output stream has ended (bounded by `graceMs` after exit). */
  finish(graceMs: number): Promise<{ stdout?: Captured; stderr?: Captured }>;
  /** Releases everything (on a failed launch). */
  destroy(): void;
}

function socketFor(fd: number, readable: boolean): net.Socket {
  // net.Socket on a pipe fd uses the event loop (epoll), not a thread-pool thread per read.
  // Loaded on first use: the CLI's jails inherit its stdio and never need it.
  const { Socket } = require('node:net') as typeof net;
  return new Socket({ fd, readable, writable: !readable, allowHalfOpen: true });
}

function capture(sock: net.Socket, cap: number): Promise<Captured> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    sock.on('data', (chunk: Buffer) => {
      if (size >= cap) {
        truncated = true;
        return;
      }
      const room = cap - size;
      if (chunk.length > room) truncated = true;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(room, chunk.length);
    });
    const done = () => resolve({ data: Buffer.concat(chunks), truncated });
    sock.on('end', done);
    sock.on('close', done);
    sock.on('error', done);
  });
}

export function openStdio(
  addon: NativeAddon,
  spec: { stdin: InputOption; stdout: OutputOption; stderr: OutputOption; maxOutputBytes: number },
): JailStdio {
  const childEnds: number[] = [];
  const sockets: net.Socket[] = [];
  const captureSockets: net.Socket[] = [];
  const captures: { stdout?: Promise<Captured>; stderr?: Promise<Captured> } = {};
  let stdin: Writable | null = null;
  let stdout: Readable | null = null;
  let stderr: Readable | null = null;
  const fds: [number, number, number] = [-1, -1, -1];

  try {
    // stdin
    const input = spec.stdin;
    if (input === 'ignore') fds[0] = -1;
    else if (input === 'inherit') fds[0] = 0;
    else if (typeof input === 'number') fds[0] = input;
    else if (input === 'pipe' || typeof input === 'string' || input instanceof Uint8Array) {
      const [r, w] = addon.pipe();
      fds[0] = r;
      childEnds.push(r);
      const sock = socketFor(w, false);
      sockets.push(sock);
      sock.on('error', () => {}); // the jail may exit without reading its input (EPIPE)
      if (input === 'pipe') stdin = sock;
      else sock.end(typeof input === 'string' ? Buffer.from(input) : Buffer.from(input));
    } else {
      throw new JailError('usage', `stdin: expected 'inherit', 'ignore', 'pipe', an fd, a string or bytes, got ${String(input)}`);
    }

    // stdout, stderr
    (['stdout', 'stderr'] as const).forEach((name, i) => {
      const out = spec[name];
      const fd = i + 1;
      if (out === 'inherit') fds[fd] = fd;
      else if (typeof out === 'number') fds[fd] = out;
      else if (out === 'pipe' || out === 'capture') {
        const [r, w] = addon.pipe();
        fds[fd] = w;
        childEnds.push(w);
        const sock = socketFor(r, true);
        sockets.push(sock);
        if (out === 'capture') {
          captures[name] = capture(sock, spec.maxOutputBytes);
          captureSockets.push(sock);
        }
        else if (name === 'stdout') stdout = sock;
        else stderr = sock;
      } else if (out !== 'ignore') {
        throw new JailError('usage', `${name}: expected 'inherit', 'ignore', 'pipe', 'capture' or an fd, got ${String(out)}`);
      }
    });
  } catch (e) {
    for (const fd of childEnds) addon.close(fd);
    for (const s of sockets) s.destroy();
    throw e;
  }

  const closeChildEnds = () => {
    for (const fd of childEnds.splice(0)) addon.close(fd);
  };

  return {
    fds,
    stdin,
    stdout,
    stderr,
    closeChildEnds,
    async finish(graceMs) {
      // Pipes end when the last process holding them exits; with a PID namespace that is the
      // jail's end. Without one a daemonised leftover could hold them forever, so bound the wait.
      const all = Promise.all([captures.stdout, captures.stderr]);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([all, timeout]);
      clearTimeout(timer);
      for (const s of captureSockets) s.destroy();
      const [out, err] = await all;
      return { stdout: out, stderr: err };
    },
    destroy() {
      closeChildEnds();
      for (const s of sockets) s.destroy();
    },
  };
}
