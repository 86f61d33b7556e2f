/**
 * A running box's supervisor: the detached `jail box _supervise NAME` process that `box start`
 * leaves behind (with the box's init, the only processes a box keeps running; no daemon). It runs
 * the box as one jail through run(), like any other jail: the jail dies with it, and it cleans up
 * (cgroups, the network link, the control socket, an ephemeral root's writes) when the init ends.
 *
 * It tells the starter how the launch went on fd 3 (one JSON line), then closes it.
 */
import * as fs from 'node:fs';
import { formatError, JailError } from '../errors';
import { loadAddon } from '../native/addon';
import { run } from '../run';
import { boxJailConfig, prepareLayers } from './jail-config';
import { lowerDir } from './root';
import { BoxPaths, processStart, readRecord, writeJson, type BoxRuntime } from './store';

/** How long the init gets to end its programs after SIGTERM before everything is killed. */
const STOP_GRACE_MS = 3000;

export interface ReadyMessage {
  ok: boolean;
  initPid?: number;
  error?: { message: string; hint?: string };
}

function tell(readyFd: number, message: ReadyMessage): void {
  if (readyFd < 0) return;
  try {
    fs.writeSync(readyFd, JSON.stringify(message) + '\n');
    fs.closeSync(readyFd);
  } catch {
    // The starter went away; the box runs on (or has failed) regardless.
  }
}

/** Removes what only a running box has: run/ (state, socket, an ephemeral root's writes). */
export function clearRunState(paths: BoxPaths): void {
  fs.rmSync(paths.run, { recursive: true, force: true, maxRetries: 2 });
}

export async function superviseBox(name: string, readyFd: number, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const paths = new BoxPaths(name, env);
  let told = false;
  const controller = new AbortController();
  let initKill: ((sig: NodeJS.Signals) => void) | null = null;
  const stop = () => {
    if (initKill) initKill('SIGTERM');
    setTimeout(() => controller.abort(), STOP_GRACE_MS).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', stop);
  try {
    const record = readRecord(paths);
    clearRunState(paths);
    prepareLayers(record, paths, env);
    const controlFd = loadAddon().boxListen(paths.socket);
    const config = boxJailConfig(record, paths, lowerDir(record, paths, env), controlFd, env);
    const report = await run({
      config,
      env,
      stdin: 'ignore',
      stdout: 'inherit',
      stderr: 'inherit',
      signal: controller.signal,
      logLevel: 'info',
      onLog: (e) => process.stderr.write(`${e.time.toISOString()} ${e.level} ${e.message}\n`),
      onStart: (jail) => {
        initKill = (sig) => jail.kill(sig);
        const runtime: BoxRuntime = { supervisorPid: process.pid, supervisorStart: processStart(process.pid)!, initPid: jail.pid, started: new Date().toISOString() };
        writeJson(paths.runtime, runtime);
        told = true;
        tell(readyFd, { ok: true, initPid: jail.pid });
      },
    });
    process.stderr.write(`box ${name} ended: ${JSON.stringify({ outcome: report.outcome, exitCode: report.exitCode, signal: report.signal, error: report.error })}\n`);
    if (!told) {
      const why = report.error ? `${report.error.stage}: ${report.error.message}` : `the init ended before it ran (${report.outcome})`;
      tell(readyFd, { ok: false, error: { message: `box '${name}' could not start: ${why}`, hint: `jail box logs ${name} has the whole log` } });
    }
    return report.exitCode;
  } catch (e) {
    process.stderr.write(`${formatError(e)}\n`);
    if (!told) tell(readyFd, { ok: false, error: { message: (e as Error).message, hint: e instanceof JailError ? e.hint : undefined } });
    return 1;
  } finally {
    clearRunState(paths);
  }
}
