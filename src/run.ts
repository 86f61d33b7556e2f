/**
 * `run()`: the library's way to run one jail (docs/architecture.md §1: the library is the product). It walks
 * the pipeline config -> policy -> plan -> launch -> report, and many calls may be in flight at
 * once in one process.
 */
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { JailError } from './errors';
import { configFromObject, loadConfig } from './config/load';
import { NET_PRESETS, type LoadedConfig, type Mode, type NetPreset } from './config/types';
import { parseAllow, parsePublish } from './net/destination';
import { loadAddon } from './native/addon';
import type { Filter } from './policy/types';
import { buildPlan, type PlannedJail } from './sandbox';
import { makeLogger, silentLogger, type LogEvent, type LogLevel, type Logger } from './supervisor/log';
import type { JailEvent } from './supervisor/events';
import { signalNumber, type ExitReport } from './supervisor/report';
import { openStdio, type InputOption, type OutputOption } from './supervisor/stdio';
import { supervise } from './supervisor/supervise';

/** Where ready-made policies live; `#include "default-deny.policy"` finds them. */
export const POLICY_DIR = path.join(__dirname, '..', 'policies');

export type ConfigInput = string | LoadedConfig | Record<string, unknown>;

export interface RunOptions {
  /** argv to run (as after `--`); may be omitted when the config has exec_bin. */
  command?: string[];
  /** A sandbox.cfg path or its text (text proto or JSON), a plain object with nsjail's field names, or a loadConfig() result. */
  config?: ConfigInput;
  /** Default 'ignore'. A string or bytes are written to the jail's stdin, then closed. */
  stdin?: InputOption;
  /** Default 'capture'. */
  stdout?: OutputOption;
  /** Default 'capture'. */
  stderr?: OutputOption;
  /** Cap per captured stream; beyond it output is read and dropped (default 10 MiB). */
  maxOutputBytes?: number;
  /** Captured output as text in this encoding (default 'utf8'), or 'buffer' for bytes. */
  encoding?: BufferEncoding | 'buffer';
  /** Aborting kills the jail. */
  signal?: AbortSignal;
  /** The caller's environment for PATH lookup, keep_env and envar (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Directory for relative config paths (default process.cwd()). */
  cwd?: string;
  /** Log events (one line each). */
  onLog?: (event: LogEvent) => void;
  logLevel?: LogLevel;
  /** Called once the program runs: its host pid, a way to signal it, and any 'pipe' streams. */
  onStart?: (jail: StartedJail) => void;
  /** Each event of the jail: a syscall its seccomp policy notifies (USER_NOTIF, seccomp_unotify), before it goes on; a connection the allow-list proxy allowed or refused. */
  onEvent?: (event: JailEvent) => void;
  /** Network preset (`--net`), overriding the config's `net`. */
  net?: NetPreset;
  /** Destinations the jail may reach, only these (`--allow`), replacing the config's `allow`. */
  allow?: string[];
  /** Servers in the jail made reachable on the host (`--publish`), replacing the config's `publish`. */
  publish?: string[];
}

/** run()'s net, allow and publish options over the config's fields, checked as the flags are. */
export function withNetworkOptions(loaded: LoadedConfig, options: Pick<RunOptions, 'net' | 'allow' | 'publish'>): LoadedConfig {
  const { net, allow, publish } = options;
  if (net === undefined && allow === undefined && publish === undefined) return loaded;
  if (net !== undefined && !NET_PRESETS.includes(net)) {
    throw new JailError('usage', `run(): net '${String(net)}' is not a network preset`, { hint: `use one of ${NET_PRESETS.join(', ')}` });
  }
  allow?.forEach(parseAllow);
  publish?.forEach(parsePublish);
  const config = { ...loaded.config, net: net ?? loaded.config.net, allow: allow ?? loaded.config.allow, publish: publish ?? loaded.config.publish };
  return { ...loaded, config };
}

export interface StartedJail {
  pid: number;
  kill(signal?: NodeJS.Signals | number): void;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
}

export interface RunResult extends ExitReport {
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
}

/** Accepts every form of config a caller may hand over. */
export function resolveConfig(input: ConfigInput | undefined, cwd: string): LoadedConfig {
  if (input === undefined) return configFromObject({}, '<run options>');
  if (typeof input === 'string') return loadConfig(input, { cwd });
  if (isLoaded(input)) return input;
  return configFromObject(input, '<run options>');
}

function isLoaded(v: unknown): v is LoadedConfig {
  return typeof v === 'object' && v !== null && 'config' in v && 'spans' in v && (v as LoadedConfig).spans instanceof Map;
}

/** The config's seccomp policy (file or joined strings) compiled for the host, or null. */
export function compileConfigPolicy(loaded: LoadedConfig, cwd: string): Filter | null {
  const c = loaded.config;
  if ((c.seccompPolicyFile === undefined || c.seccompPolicyFile === '') && c.seccompString.length === 0) return null;
  // Loaded on demand: the compiler and its syscall tables are most of jail's code.
  const { compilePolicy, compilePolicyFile } = require('./policy') as typeof import('./policy');
  const includePaths = [POLICY_DIR];
  if (c.seccompPolicyFile !== undefined && c.seccompPolicyFile !== '') {
    return compilePolicyFile(path.resolve(cwd, c.seccompPolicyFile), { includePaths });
  }
  if (c.seccompString.length > 0) {
    return compilePolicy(c.seccompString.join('\n'), { file: '<seccomp_string>', includePaths });
  }
  return null;
}

export interface PlanJailOptions extends Pick<RunOptions, 'config' | 'env' | 'cwd'> {
  /** argv as after `--`; null checks everything but the command (see PlanOptions.command). */
  command?: string[] | null;
  /** Modes the caller can run (default ONCE; the CLI also runs EXECVE). */
  modes?: Mode[];
}

/** Config + command -> a checked plan, without running anything (what `jail plan` prints). */
export function planJail(options: PlanJailOptions): PlannedJail {
  return jailPlanner(options).first;
}

const MODE_ENTRY: Record<Mode, string> = { ONCE: 'run()', EXECVE: 'the jail command (-Me)', LISTEN: 'listen()', RERUN: 'rerun()' };

/**
 * Checks the config, the mode and the policy once, plans the first jail (so every error shows
 * before anything runs) and returns `next` to plan one more: modes that start many jails need a
 * fresh plan for each (its own cgroup name), not a recompiled policy.
 */
export function jailPlanner(options: PlanJailOptions): { first: PlannedJail; next: () => PlannedJail } {
  const cwd = options.cwd ?? process.cwd();
  const loaded = resolveConfig(options.config, cwd);
  const modes = options.modes ?? ['ONCE'];
  if (!modes.includes(loaded.config.mode)) {
    throw new JailError('config', `mode ${loaded.config.mode}: this runs jails in ${modes.join(' or ')} mode only`, {
      span: loaded.spans.get('mode'),
      hint: `${loaded.config.mode} mode is run by ${MODE_ENTRY[loaded.config.mode]}; omit mode here (ONCE is the default)`,
    });
  }
  const filter = compileConfigPolicy(loaded, cwd);
  const next = () => buildPlan(loaded, { command: options.command === undefined ? [] : options.command, env: options.env ?? process.env, cwd, filter });
  return { first: next(), next };
}

export async function run(options: RunOptions = {}): Promise<RunResult> {
  const cwd = options.cwd ?? process.cwd();
  const loaded = withNetworkOptions(resolveConfig(options.config, cwd), options);
  const planned = planJail({ ...options, config: loaded, cwd });
  const log = libraryLogger(options);
  for (const w of planned.warnings) log.warn(w);
  return runPlanned(planned, loaded.config.timeLimit, options, log);
}

/** The library's logger: the caller's onLog callback at its level, or nothing. */
export function libraryLogger(options: Pick<RunOptions, 'onLog' | 'logLevel'>): Logger {
  return options.onLog ? makeLogger(options.onLog, options.logLevel ?? 'info') : silentLogger;
}

/** One jail of an already checked plan, with run()'s streams and result (run() and rerun()). */
export async function runPlanned(planned: PlannedJail, timeLimit: number, options: RunOptions, log: Logger): Promise<RunResult> {
  const addon = loadAddon();
  const stdio = openStdio(addon, {
    stdin: options.stdin ?? 'ignore',
    stdout: options.stdout ?? 'capture',
    stderr: options.stderr ?? 'capture',
    maxOutputBytes: options.maxOutputBytes ?? 10 * 1024 * 1024,
  });
  const result = await supervise(addon, planned, {
    timeLimit,
    stdio,
    log,
    signal: options.signal,
    onEvent: options.onEvent,
    onStart: (jail) =>
      options.onStart?.({
        pid: jail.pid,
        kill: (sig = 'SIGKILL') => jail.kill(typeof sig === 'number' ? sig : signalNumberOf(sig)),
        stdin: stdio.stdin,
        stdout: stdio.stdout,
        stderr: stdio.stderr,
      }),
  });
  const encode = (b: Buffer) => (options.encoding === 'buffer' ? b : b.toString(options.encoding ?? 'utf8'));
  const out: RunResult = { ...result.report };
  if (result.stdout) {
    out.stdout = encode(result.stdout.data);
    out.stdoutTruncated = result.stdout.truncated;
  }
  if (result.stderr) {
    out.stderr = encode(result.stderr.data);
    out.stderrTruncated = result.stderr.truncated;
  }
  return out;
}

function signalNumberOf(name: string): number {
  const n = signalNumber(name);
  if (n === undefined) throw new JailError('usage', `kill: unknown signal '${name}'`);
  return n;
}
