/**
 * Helpers of the modes' tests: TCP clients with bounded waits, and finding (and killing) the
 * processes of a test by a marker in their argv, since LISTEN, RERUN and daemon jails are not
 * children the test can wait for.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { waitFor } from '../core/helpers';

/** A unique word to put in a jailed command's argv. */
export function marker(name: string): string {
  return `jail-it-${name}-${process.pid}-${Date.now().toString(36)}`;
}

/** Pids of live processes whose argv contains `word`. */
export function processesWith(word: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const state = /^\S+ \(.*\) (\S)/.exec(fs.readFileSync(`/proc/${name}/stat`, 'utf8'))?.[1];
      if (argv.includes(word) && state !== 'Z' && state !== 'X') out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Waits (bounded) until no process has `word` in its argv; returns the survivors. */
export async function survivorsWith(word: string, timeoutMs = 5000): Promise<number[]> {
  try {
    await waitFor(() => processesWith(word).length === 0, timeoutMs, `no process with '${word}'`, 50);
  } catch {
    // reported by the caller
  }
  return processesWith(word);
}

/** SIGKILLs every process with `word` in its argv (cleanup, also after a failed test). */
export function killWith(word: string): void {
  for (const pid of processesWith(word)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The port a `jail -Ml --port 0` listens on, from its log on stderr (bounded wait). */
export function listeningPort(child: ChildProcess, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no 'Listening on' line within ${timeoutMs} ms; stderr: ${text}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /Listening on \[[^\]]*\]:(\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
}

export interface Client {
  socket: net.Socket;
  /** The client's port (known once connected, kept after the close). */
  localPort(): number | undefined;
  /** Everything received so far. */
  text(): string;
  /** Resolves once `pattern` has been received (bounded). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with everything received when the server closes the connection (bounded). */
  closed: Promise<string>;
}

/** Connects to the listener (from `localAddress` when given); every wait is bounded. */
export function connect(host: string, port: number, localAddress?: string, timeoutMs = 30_000): Client {
  const socket = net.connect({ host, port, localAddress });
  let received = '';
  let localPort: number | undefined;
  socket.on('connect', () => (localPort = socket.localPort));
  socket.on('data', (d: Buffer) => (received += d.toString()));
  socket.on('error', () => {}); // a refused connection may be reset
  const closed = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection to ${host}:${port} still open after ${timeoutMs} ms; received: ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
  closed.catch(() => {});
  return {
    socket,
    localPort: () => localPort,
    text: () => received,
    async waitFor(pattern, ms = timeoutMs) {
      await waitFor(() => pattern.test(received) || socket.destroyed, ms, `${pattern} from ${host}:${port}`);
      if (!pattern.test(received)) throw new Error(`connection closed before ${pattern}; received: ${JSON.stringify(received)}`);
      return received;
    },
    closed,
  };
}
