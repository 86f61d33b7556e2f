/**
 * `jail serve`: a thin adapter from the command line to serve() (src/serve/, docs/serve.md).
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT stop it: no more runs, running jails get the grace period, then
 * are killed, and it exits 0. A second signal kills the running jails at once.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { JailError } from '../errors';
import { parseSize } from '../config/size';
import { serveWith, type ServeOptions } from '../serve';
import { formatLogLine, makeLogger } from '../supervisor/log';
import type { CliIO } from './io';
import { onFatalSignals } from './signals';

interface ServeFlags {
  listen: string;
  socket?: string;
  config?: string;
  maxConcurrent?: string;
  queue?: string;
  tokenFile?: string;
  maxBody?: string;
  maxOutput?: string;
  maxFiles?: string;
  workdir?: string;
  envAllow: string[];
  grace: string;
  quiet?: boolean;
}

function wholeNumber(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new JailError('flag', `${flag}: '${text}' is not a whole number >= ${min}; give e.g. ${flag} ${Math.max(min, 8)}`);
  return n;
}

/** `HOST:PORT`, `[IPV6]:PORT` or a bare `PORT` (on 127.0.0.1). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new JailError('flag', `--listen: '${text}' is not HOST:PORT; give e.g. 127.0.0.1:8080, [::1]:8080, or 0.0.0.0:8080 with --token-file`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new JailError('flag', `--token-file: cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; give a readable file holding the token`);
  }
}

export function registerServeCommand(program: Command, io: CliIO, setExit: (code: number) => void): Command {
  return program
    .command('serve')
    .description('run jails for HTTP clients: POST /v1/run {command | code + language, stdin, files, config} -> {report, stdout, stderr} (docs/serve.md)')
    .option('--listen <host:port>', 'TCP address; anything but loopback needs --token-file', '127.0.0.1:8080')
    .option('--socket <path>', 'listen on this unix socket (created mode 0600) instead of TCP')
    .option('--config <file>', "the jail of every run, and the widest a request may ask for (default: host / read-only, tmpfs /tmp, no network, 10 s)")
    .option('--max-concurrent <n>', 'runs at once (default: 2 per CPU)')
    .option('--queue <n>', 'runs waiting for a slot; more get 429 (default 64)')
    .option('--token-file <file>', 'clients must send "Authorization: Bearer <the file\'s content>"')
    .option('--max-body <size>', 'largest request body (default 1M)')
    .option('--max-output <size>', 'cap per captured stream; beyond it output is dropped (default 1M)')
    .option('--max-files <n>', 'most files per run (default 64)')
    .option('--workdir <path>', "where a run's files appear in the jail, read-only (default /tmp/run)")
    .option('--env-allow <name>', 'an environment variable a request may set through config.envar (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--grace <sec>', 'on SIGTERM, how long running jails may finish before they are killed', '10')
    .option('-q, --quiet', 'log errors only')
    .action(async (f: ServeFlags) => {
      const log = makeLogger((e) => io.stderr(formatLogLine(e)), f.quiet ? 'error' : 'info');
      const { host, port } = parseListen(f.listen);
      const options: ServeOptions = {
        config: f.config,
        env: io.env,
        cwd: io.cwd,
        host,
        port,
        socket: f.socket,
        token: f.tokenFile === undefined ? undefined : readToken(f.tokenFile),
        maxConcurrent: f.maxConcurrent === undefined ? undefined : wholeNumber('--max-concurrent', f.maxConcurrent, 1),
        queue: f.queue === undefined ? undefined : wholeNumber('--queue', f.queue, 0),
        maxBodyBytes: f.maxBody === undefined ? undefined : parseSize(f.maxBody),
        maxOutputBytes: f.maxOutput === undefined ? undefined : parseSize(f.maxOutput),
        maxFiles: f.maxFiles === undefined ? undefined : wholeNumber('--max-files', f.maxFiles, 1),
        workdir: f.workdir,
        envAllow: f.envAllow,
        graceMs: wholeNumber('--grace', f.grace, 0) * 1000,
      };
      const server = await serveWith(options, log);
      let stopping = false;
      const off = onFatalSignals((_n, name) => {
        if (stopping) {
          log.warn(`received ${name} again: killing ${server.active} run(s) now`);
          void server.close(0);
          return;
        }
        stopping = true;
        log.info(`received ${name}: no more runs; waiting up to ${f.grace} s for ${server.active} run(s)`);
        void server.close();
      });
      try {
        await server.closed;
        setExit(0);
      } finally {
        off();
      }
    });
}
