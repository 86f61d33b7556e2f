/**
 * Shared helpers of the core integration tests: the probe binary, running jails through the
 * library with nsjail's command-line flags (the same parser the CLI uses, without a process per
 * run), running the `jail` CLI with a timeout, and host-side scans (processes, fds, mounts).
 *
 * Every child process started here is tracked and killed by `killSpawned()` (call it in
 * afterEach/afterAll); every wait is bounded.
 */
// Lets the product's lazy require('./policy') etc. load the TypeScript sources under vitest.
import '../../helpers/lazy-require';
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { configFromFlags, defineJailFlags } from '../../../src/config';
import { run, type RunOptions, type RunResult } from '../../../src/index';

export const REPO = path.resolve(__dirname, '../../..');
export const JAIL_BIN = path.join(REPO, 'bin', 'jail');
/** A PATH without the caller's pyenv/cargo shims: what a fresh Debian machine has. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A directory that exists on every Debian host and does not hold the repo: tests mount a tmpfs
 * over it in `--chroot /` jails (over /tmp that would hide a checkout living under /tmp).
 */
export const SCRATCH = REPO.startsWith('/tmp/') ? '/mnt' : '/tmp';

let probeCache: string | undefined;

/** Builds the probe when missing or stale (test/probe/build.sh) and returns its absolute path. */
export function probePath(): string {
  if (probeCache) return probeCache;
  const out = execFileSync(path.join(REPO, 'test/probe/build.sh'), [], { encoding: 'utf8', timeout: 120_000 });
  const p = out.trim().split('\n').pop()!;
  if (!fs.existsSync(p)) throw new Error(`probe build printed '${p}', which does not exist`);
  probeCache = p;
  return p;
}

/** Directory of the probe (bind it with -R DIR:/probe for minimal jails). */
export function probeDir(): string {
  return path.dirname(probePath());
}

/** The CLI runs dist/: fail with a clear message instead of a confusing one when it is missing. */
export function assertBuilt(): void {
  const main = path.join(REPO, 'dist', 'cli', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` before the integration tests`);
}

// ---------------------------------------------------------------------------------------------
// Probe output

/** Anything the probe prints; tests index into it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Probe = Record<string, any>;

/** The probe's JSON: the last non-empty line of its stdout. */
export function parseProbe(stdout: string | Buffer | undefined): Probe {
  const text = (stdout ?? '').toString();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1];
  if (last === undefined) throw new Error(`the probe printed nothing on stdout`);
  try {
    return JSON.parse(last) as Probe;
  } catch {
    throw new Error(`the probe's last stdout line is not JSON: ${JSON.stringify(last.slice(0, 500))}\nfull stdout: ${text.slice(0, 2000)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The library, driven by nsjail flags

/** Flags -> LoadedConfig + command, through the same flag table and parser as the CLI. */
export function parseFlags(args: string[], env: NodeJS.ProcessEnv = process.env, cwd = REPO) {
  const cmd = new Command('jail')
    .argument('[command...]')
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  const recorder = defineJailFlags(cmd);
  cmd.parse(args, { from: 'user' });
  const config = configFromFlags(recorder.events, { cwd, env });
  return { config, command: cmd.args };
}

export interface FlagRunOptions extends Omit<RunOptions, 'config' | 'command'> {
  /** Log lines are collected here (and into `logs` of the result). */
  logs?: string[];
}

export interface FlagRunResult extends RunResult {
  logs: string[];
}

/** `jail FLAGS -- COMMAND` through the library: the flags are parsed as the CLI parses them, then run(). */
export async function runFlags(flags: string[], command: string[], opts: FlagRunOptions = {}): Promise<FlagRunResult> {
  const env = opts.env ?? { ...process.env, PATH: SYSTEM_PATH };
  const { config } = parseFlags([...flags, '--', ...command], env, opts.cwd ?? REPO);
  const logs = opts.logs ?? [];
  const result = await run({
    ...opts,
    env,
    config,
    command,
    onLog: (e) => {
      logs.push(`${e.level} ${e.message}`);
      opts.onLog?.(e);
    },
  });
  return { ...result, logs };
}

/** Runs the probe with `flags` (it must be visible in the jail at its host path: use --chroot / or probeFlags). */
export async function runProbe(flags: string[], probeArgs: string[], opts: FlagRunOptions = {}): Promise<{ result: FlagRunResult; probe: Probe }> {
  const result = await runFlags(flags, [probePath(), ...probeArgs], opts);
  let probe: Probe;
  try {
    probe = parseProbe(result.stdout);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nreport: ${JSON.stringify({ ...result, stdout: undefined })}`);
  }
  return { result, probe };
}

/** The probe in a minimal jail: only its own directory is bound (read-only) at /probe. */
export async function runProbeMinimal(flags: string[], probeArgs: string[], opts: FlagRunOptions = {}) {
  const result = await runFlags(['-R', `${probeDir()}:/probe`, ...flags], ['/probe/probe', ...probeArgs], opts);
  return { result, probe: parseProbe(result.stdout) };
}

// ---------------------------------------------------------------------------------------------
// The CLI

const spawned = new Set<ChildProcess>();

export interface CliOptions {
  /** Kill the CLI (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** Without input, leave stdin open (as a user at a terminal who types nothing) instead of at EOF. */
  keepStdinOpen?: boolean;
  /** Extra stdio entries after 0,1,2 (e.g. 'pipe' for --report-fd 3). */
  extraStdio?: SpawnOptions['stdio'];
  /** Run as this user: `setpriv --reuid --regid --clear-groups` in front of node. */
  asUser?: { uid: number; gid: number };
  /** bin/jail to run (default: this repo's). */
  jailBin?: string;
  /** Run this executable with ARGS instead of node bin/jail (the warm path's jail_client). */
  client?: string;
  /** Called once the CLI is spawned (to send it signals). */
  onSpawn?: (child: ChildProcess) => void;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Data read from extra pipes (fd 3...), by fd. */
  extra: Record<number, string>;
  timedOut: boolean;
  wallMs: number;
}

/** Runs `./bin/jail ARGS` (or opts.client ARGS) with a hard timeout and collects everything it printed. */
export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env = opts.env ?? { ...process.env, PATH: SYSTEM_PATH };
  const extra = (opts.extraStdio as unknown[] | undefined) ?? [];
  let file = opts.client ?? process.execPath;
  let argv = opts.client !== undefined ? args : [opts.jailBin ?? JAIL_BIN, ...args];
  if (opts.asUser) {
    argv = [`--reuid=${opts.asUser.uid}`, `--regid=${opts.asUser.gid}`, '--clear-groups', file, ...argv];
    file = 'setpriv';
  }
  const child = spawn(file, argv, {
    cwd: opts.cwd ?? REPO,
    env,
    stdio: ['pipe', 'pipe', 'pipe', ...(extra as [])],
  });
  spawned.add(child);
  const start = Date.now();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const extraData: Record<number, Buffer[]> = {};
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  extra.forEach((kind, i) => {
    const stream = child.stdio[3 + i] as NodeJS.ReadableStream | null;
    if (kind === 'pipe' && stream) {
      extraData[3 + i] = [];
      stream.on('data', (d: Buffer) => extraData[3 + i].push(d));
    }
  });
  child.stdin!.on('error', () => {});
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else if (!opts.keepStdinOpen) child.stdin!.end();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 30_000);
  opts.onSpawn?.(child);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      spawned.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      spawned.delete(child);
      const extraText: Record<number, string> = {};
      for (const [fd, chunks] of Object.entries(extraData)) extraText[Number(fd)] = Buffer.concat(chunks).toString('utf8');
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        extra: extraText,
        timedOut,
        wallMs: Date.now() - start,
      });
    });
  });
}

/** SIGKILLs every CLI process still running (afterEach/afterAll). */
export function killSpawned(): void {
  for (const child of spawned) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  spawned.clear();
}

/** Resolves when `pred` holds, polling every `intervalMs`, or rejects after `timeoutMs`. */
export async function waitFor(pred: () => boolean, timeoutMs: number, what: string, intervalMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return;
    await sleep(intervalMs);
  }
  if (pred()) return;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Host-side scans

export interface HostProcess {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
}

/** Every process on the host (from /proc/PID/stat), skipping ones that vanish while reading. */
export function hostProcesses(): HostProcess[] {
  const out: HostProcess[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(open + 1, close);
      const rest = stat.slice(close + 2).split(' ');
      out.push({ pid: Number(name), comm, state: rest[0], ppid: Number(rest[1]) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Live (not zombie) host processes whose comm is `comm`. */
export function liveProcessesNamed(comm: string): HostProcess[] {
  return hostProcesses().filter((p) => p.comm === comm && p.state !== 'Z' && p.state !== 'X');
}

/** Waits (bounded) until no live process named `comm` exists; returns the survivors if some remain. */
export async function survivorsNamed(comm: string, timeoutMs = 3000): Promise<HostProcess[]> {
  const end = Date.now() + timeoutMs;
  let left = liveProcessesNamed(comm);
  while (left.length > 0 && Date.now() < end) {
    await sleep(50);
    left = liveProcessesNamed(comm);
  }
  return left;
}

/** SIGKILLs every live process named `comm` (cleanup after a failed assertion). */
export function killNamed(comm: string): void {
  for (const p of liveProcessesNamed(comm)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Children of this process (not zombies, not the CLI processes we track ourselves). */
export function childrenOfThisProcess(): HostProcess[] {
  return hostProcesses().filter((p) => p.ppid === process.pid && p.state !== 'Z');
}

export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

export function mountCount(): number {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).length;
}

/** The namespace links of a process (default: this one), e.g. { net: 'net:[4026531833]' }. */
export function nsLinks(pid: number | 'self' = 'self'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']) {
    try {
      out[name] = fs.readlinkSync(`/proc/${pid}/ns/${name}`);
    } catch {
      // not supported by this kernel
    }
  }
  return out;
}

/** A fresh temp dir under /tmp (0755), removed by the returned function. */
export function tempDir(prefix = 'jail-it-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The usual fixture of a describe block: the CLI built (and the probe, when asked), a temporary
 * directory, and every process a test spawned killed after it. Returns the directory's getter.
 */
export function cliFixture(opts: { probe?: boolean } = {}): () => { dir: string; remove: () => void } {
  let tmp: { dir: string; remove: () => void } | undefined;
  beforeAll(() => {
    assertBuilt();
    if (opts.probe) probePath();
    tmp = tempDir();
  });
  afterEach(() => killSpawned());
  afterAll(() => tmp?.remove());
  return () => tmp!;
}

/** Which tool exists on PATH (for describeIf reasons). */
export function hasTool(name: string): boolean {
  return SYSTEM_PATH.split(':').some((d) => {
    try {
      fs.accessSync(path.join(d, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Decodes a 16-hex-digit capability mask as a bigint. */
export const capMask = (hex: string): bigint => BigInt('0x' + hex);
