/**
 * `jail [flags] -- command`, `jail plan [flags] -- command` and `jail check [flags]`: nsjail's
 * flags (registered from the config schema) plus jail's report options, then the pipeline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { JailError } from '../errors';
import { EXIT_CODE_TABLE } from '../exit-codes';
import { configFromFlags, defineJailFlags } from '../config/flags';
import type { LoadedConfig, Mode } from '../config/types';
import { isDaemonCopy } from './daemon';
import { planJail } from '../run';
import { formatLogLine, makeLogger, type LogEvent, type Logger, type LogLevel } from '../supervisor/log';
import type { ExitReport } from '../supervisor/report';
import { requireProcess, type CliIO } from './io';

type Kind = 'run' | 'plan' | 'check';

interface ReportOptions {
  report?: string;
  reportFd?: string;
  reportFile?: string;
  events?: string;
}

const ABOUT: Record<Kind, string> = {
  run: 'Run a command in a jail. Accepts nsjail\'s flags and sandbox.cfg files (-C).',
  plan: 'Print the JSON plan of everything the jail would do to the kernel, without running anything.',
  check: 'Check flags and a config file (and its seccomp policy) without running anything; exit 0 or 255.',
};

function helpFooter(kind: Kind): string {
  const lines = ['', 'Commands:', '  jail [flags] -- command [args]      run command in a jail (default)',
    '  jail plan [flags] -- command [args] print the plan as JSON', '  jail check [flags]                  validate flags and config',
    '  jail policy compile|eval ...        compile or evaluate kafel seccomp policies', '  jail config --help-fields           list every sandbox.cfg field',
    '  jail serve [--listen H:P|--socket P] run jails for HTTP requests (docs/serve.md)',
    '  jail warm [--socket P]              keep a supervisor running for build/Release/jail_client (README)', '  jail doctor [--json]                what works on this machine, and the fixes',
    '  jail box up|create|start|exec|shell|ls|status|diff|stop|rm|logs NAME ...  named, long-lived sandboxes (README: Boxes)',
    '  jail image build|import|ls|rm ...   root filesystem images for boxes (README: Boxes)',
    '  jail --version                      print the version'];
  if (kind === 'run') {
    lines.push('', 'A command given by a bare name (python3) is looked up on your PATH before launch (nsjail needs an absolute path).',
      'The jail gets an empty environment unless -e/--keep_env or -E VAR[=value].', '', 'Exit codes:');
    for (const [code, text] of EXIT_CODE_TABLE) lines.push(`  ${code.padEnd(6)} ${text}`);
  }
  return lines.join('\n');
}

function buildCommand(kind: Kind, io: CliIO) {
  const cmd = new Command(kind === 'run' ? 'jail' : `jail ${kind}`)
    .description(ABOUT[kind])
    .usage(kind === 'check' ? '[flags]' : '[flags] -- command [args...]')
    .argument('[command...]', 'the program and its arguments')
    .passThroughOptions()
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .addHelpText('after', helpFooter(kind));
  const recorder = defineJailFlags(cmd);
  if (kind === 'run') {
    cmd.addOption(new Option('--report <format>', 'write the exit report as JSON to stderr').choices(['json']).helpGroup('Report:'));
    cmd.addOption(new Option('--report-fd <fd>', 'write the exit report as JSON to this file descriptor').helpGroup('Report:'));
    cmd.addOption(new Option('--report-file <path>', 'write the exit report as JSON to this file').helpGroup('Report:'));
    cmd.addOption(new Option('--events <target>', 'write the jail\'s events (notified syscalls) as JSON lines to a file, or fd:N').helpGroup('Report:'));
  }
  return { cmd, recorder };
}

const LEVELS: Record<string, LogLevel> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error', FATAL: 'error' };

/** Where nsjail logs in the background when no --log or --log_fd is given. */
const DAEMON_LOG_FILE = '/var/log/nsjail.log';

/** nsjail's log targets: --log FILE (append), --log_fd N, else stderr (with -d: DAEMON_LOG_FILE). */
function cliLogger(loaded: LoadedConfig, io: CliIO): Logger {
  const c = loaded.config;
  let write: (line: string) => void = io.stderr;
  const file = c.logFile !== undefined && c.logFile !== '' ? c.logFile : c.daemon && c.logFd === undefined ? DAEMON_LOG_FILE : undefined;
  if (file !== undefined) {
    let fd: number;
    try {
      fd = fs.openSync(path.resolve(io.cwd, file), 'a', 0o640);
    } catch (e) {
      throw new JailError('flag', `--log: cannot open '${file}' for appending: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        hint: c.logFile ? 'give --log a file in a directory you can write' : `-d logs to ${DAEMON_LOG_FILE} unless you give --log FILE or --log_fd N`,
      });
    }
    write = (line) => fs.writeSync(fd, line);
  } else if (c.logFd !== undefined && c.logFd !== 2) {
    const fd = io.fd(c.logFd);
    write = (line) => fs.writeSync(fd, line);
  }
  // A log target that fails (a closed --log_fd, a full disk) loses the line, never the cleanup.
  const writeOrDrop = (line: string) => {
    try {
      write(line);
    } catch {
      // dropped
    }
  };
  return makeLogger((e: LogEvent) => writeOrDrop(formatLogLine(e)), LEVELS[c.logLevel ?? 'INFO']);
}

/**
 * Writes each exit report where the options say. Modes that run many jails write one JSON line
 * per jail; the report file is truncated by the first and appended to by the rest.
 */
function reportWriter(opts: ReportOptions, io: CliIO): (report: ExitReport) => void {
  let fileFlag = 'w';
  return (report) => {
    const json = JSON.stringify(report) + '\n';
    if (opts.report === 'json') io.stderr(json);
    if (opts.reportFd !== undefined) fs.writeSync(io.fd(Number(opts.reportFd)), json);
    if (opts.reportFile !== undefined) {
      fs.writeFileSync(path.resolve(io.cwd, opts.reportFile), json, { flag: fileFlag });
      fileFlag = 'a';
    }
  };
}

/**
 * What in a run needs the `jail` process itself rather than a warm server's share of one
 * (io.ts CliIO.ownsProcess), or null: -d detaches the process, -Me replaces it, -Ml and -Mr
 * run until a signal to the process, and a descriptor above 2 exists only in the client.
 */
function processWideNeed(loaded: LoadedConfig, opts: ReportOptions): string | null {
  const c = loaded.config;
  if (c.daemon) return '-d';
  if (c.mode !== 'ONCE') return `mode ${c.mode}`;
  if (c.passFd.length > 0) return '--pass_fd';
  if (c.logFd !== undefined && c.logFd > 2) return '--log_fd';
  if (opts.reportFd !== undefined && Number(opts.reportFd) > 2) return '--report-fd';
  const m = opts.events === undefined ? null : /^fd:(\d+)$/.exec(opts.events);
  if (m && Number(m[1]) > 2) return '--events fd:N';
  return null;
}

const ALL_MODES: Mode[] = ['ONCE', 'EXECVE', 'LISTEN', 'RERUN'];

export async function runJailCommand(kind: Kind, argv: string[], io: CliIO): Promise<number> {
  const daemonCopy = isDaemonCopy(io.env);
  const { cmd, recorder } = buildCommand(kind, io);
  cmd.parse(argv, { from: 'user' });
  const command = cmd.args;
  const loaded = configFromFlags(recorder.events, { cwd: io.cwd, env: io.env });
  const options = cmd.opts() as ReportOptions;
  if (options.reportFd !== undefined && !/^\d+$/.test(options.reportFd)) {
    throw new JailError('flag', `--report-fd: '${options.reportFd}' is not a file descriptor number`, { hint: 'e.g. --report-fd 3' });
  }

  if (kind === 'check') {
    // Everything a launch would check first: fields, the policy, mounts, ids, limits, and the
    // command when there is one.
    const hasCommand = command.length > 0 || loaded.config.execBin !== undefined;
    planJail({ command: hasCommand ? command : null, config: loaded, env: io.env, cwd: io.cwd, modes: ALL_MODES });
    io.stdout('OK\n');
    return 0;
  }
  if (kind === 'plan') {
    const planned = planJail({ command, config: loaded, env: io.env, cwd: io.cwd, modes: ALL_MODES });
    for (const w of planned.warnings) io.stderr(`warning: ${w}\n`);
    io.stdout(JSON.stringify(planned.plan, null, 2) + '\n');
    return 0;
  }
  const c = loaded.config;
  const need = io.ownsProcess ? null : processWideNeed(loaded, options);
  if (need !== null) requireProcess(io, need);
  const log = cliLogger(loaded, io);
  if (c.daemon && !daemonCopy) {
    planJail({ command, config: loaded, env: io.env, cwd: io.cwd, modes: ALL_MODES });
    const keep = [...c.passFd, ...(c.logFd !== undefined ? [c.logFd] : []), ...(options.reportFd !== undefined ? [Number(options.reportFd)] : [])];
    await (require('./daemon') as typeof import('./daemon')).daemonize(argv, io.env, io.cwd, keep, log);
    return 0;
  }
  if (c.mode === 'EXECVE') {
    (require('./execve-cli') as typeof import('./execve-cli')).execveFromCli(loaded, command, io, log);
  }
  const writeReport = reportWriter(options, io);
  if (c.mode === 'LISTEN' || c.mode === 'RERUN') {
    const modes = require('./modes-cli') as typeof import('./modes-cli');
    return await (c.mode === 'LISTEN' ? modes.listenFromCli : modes.rerunFromCli)(loaded, command, io, log, writeReport);
  }
  const { runFromCli } = require('./supervise-cli') as typeof import('./supervise-cli');
  const report = await runFromCli(loaded, command, io, log, options.events);
  writeReport(report);
  return report.exitCode;
}
