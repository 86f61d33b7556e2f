/**
 * Shared pieces of the hardening tests: small C helpers built on demand, a Node script run in a
 * process of its own (for tests that change process-wide state: seccomp filters, signal
 * dispositions), and host-side searches for a jail's processes by their command line.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostProcesses, REPO, SYSTEM_PATH } from '../core/helpers';

/** Compiles test/integration/hardening/NAME.c into DIR; returns the output path. */
export function compileC(name: string, dir: string, args: string[] = []): string {
  const out = path.join(dir, name + (args.includes('-shared') ? '.so' : ''));
  execFileSync('cc', ['-O2', '-Wall', ...args, '-o', out, path.join(__dirname, `${name}.c`)], { timeout: 60_000 });
  return out;
}

/** Host processes whose command line is exactly `argv` (e.g. ['sleep', '78']). */
export function processesWithArgv(argv: string[]): number[] {
  const want = argv.join('\0');
  return hostProcesses()
    .map((p) => p.pid)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '') === want;
      } catch {
        return false;
      }
    });
}

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node -e SCRIPT` (optionally behind `wrapper`, e.g. setpriv), with `jail` in the script
 * bound to the built library (jailRoot/dist, default this checkout). Killed after timeoutMs. The
 * script prints its findings as JSON.
 */
export function runNodeScript(script: string, opts: { wrapper?: string[]; timeoutMs?: number; jailRoot?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ScriptResult> {
  const prelude = `const jail = require(${JSON.stringify(path.join(opts.jailRoot ?? REPO, 'dist', 'index.js'))});\n`;
  const argv = [...(opts.wrapper ?? []), process.execPath, '-e', prelude + script];
  const child = spawn(argv[0], argv.slice(1), { cwd: '/', env: { PATH: SYSTEM_PATH, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    }),
  );
}

/** The last stdout line of a script, parsed; throws with everything it printed otherwise. */
export function scriptJson(r: ScriptResult): Record<string, unknown> {
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`the script (exit ${r.code}) printed no JSON line:\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`);
  }
}
