/**
 * Where a CLI command writes. Commands take a CliIO instead of touching process.stdout so
 * unit tests can run them through commander's exitOverride and read what they printed, and so
 * that the warm server (src/cli/warm-command.ts) can run many commands at once in one process,
 * each on its own client's fds, environment and working directory.
 */
import { onFatalSignals } from './signals';

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads all of standard input (for `-` arguments). */
  readStdin(): Promise<string>;
  /** The caller's environment (PATH lookup, -E VAR, prefix_src_env). */
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** This process's fd for the caller's descriptor `n` (0, 1, 2 for the jail's stdio, --log_fd, --report-fd, fd:N). */
  fd(n: number): number;
  /** Calls `onSignal` on SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to the caller, until the returned function is called. */
  onFatalSignals: typeof onFatalSignals;
  /**
   * False in a warm run, which shares the server process with other runs and has only the
   * client's fds 0, 1, 2: whatever needs the process itself (-d, -Me, -Ml, -Mr, --pass_fd,
   * another fd, jail serve/doctor/policy/config/warm) throws RunCold before printing anything.
   */
  ownsProcess: boolean;
}

/** A warm run asked for something only a process of its own can do: the client runs the Node CLI instead. */
export class RunCold extends Error {}

/** Throws RunCold for `what` when `io` does not own its process. */
export function requireProcess(io: CliIO, what: string): void {
  if (!io.ownsProcess) throw new RunCold(what);
}

let stdioErrorsIgnored = false;

/**
 * A reader that went away (`jail ... 2>&1 | head -1`: EPIPE) must not kill the supervisor before
 * it has cleaned up after its jail (cgroups, the network link): what it would have printed is
 * dropped instead. Node reports such a failed write as an 'error' event, fatal when unhandled.
 */
function ignoreStdioErrors(): void {
  if (stdioErrorsIgnored) return;
  stdioErrorsIgnored = true;
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}

export function processIO(): CliIO {
  ignoreStdioErrors();
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    cwd: process.cwd(),
    fd: (n) => n,
    onFatalSignals,
    ownsProcess: true,
  };
}
