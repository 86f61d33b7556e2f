/**
 * A running box's supervisor: the detached `jail box _supervise NAME` process that `box start`
 * leaves behind (with the box's init, the only processes a box keeps running; no daemon). The jail
 * dies with it.
 *
 * A box without a network needs nothing from Node while it runs: `box start` hands it to the
 * native launcher as a process of its own (startUnderLauncher; src/supervisor/execve.ts), a few
 * hundred KiB instead of a Node process (bench/box.mjs). Its init tells the starter it serves
 * (its --ready fd) and writes a clean end to run/note; `box stop` and the next command clean
 * run/ and the cgroups up. A networked box gets `jail box _supervise` (superviseBox), a Node
 * process that runs the link (pasta) and cleans up after itself.
 *
 * The starter reads one JSON line on fd 3: {"ok":true} or {"ok":false,"error":{...}}.
 */
import * as fs from 'node:fs';
import { configFromObject } from '../config/load';
import { removeCgroupTreeWithin } from '../cgroup/fs';
import type { LoadedConfig } from '../config/types';
import { formatError, JailError } from '../errors';
import { builtProgram, loadAddon } from '../native/addon';
import { compileConfigPolicy, run } from '../run';
import { buildPlan } from '../sandbox';
import { spawnLauncher } from '../supervisor/execve';
import { formatLogLine, makeLogger } from '../supervisor/log';
import { boxJailConfig, prepareLayers, type InitFds } from './jail-config';
import { lowerDir } from './root';
import { BoxPaths, processStart, readRecord, readRuntime, writeJson, type BoxRecord, type BoxRuntime } from './store';

/** How long the init gets to end its programs after SIGTERM before everything is killed. */
const STOP_GRACE_MS = 3000;

export interface ReadyMessage {
  ok: boolean;
  error?: { message: string; hint?: string };
}

function tell(readyFd: number, message: ReadyMessage): void {
  try {
    fs.writeSync(readyFd, JSON.stringify(message) + '\n');
    fs.closeSync(readyFd);
  } catch {
    // The starter went away; the box runs on (or has failed) regardless.
  }
}

/**
 * Removes what only a running box has, once its supervisor is gone: the cgroups the native
 * launcher could not remove, and run/ (state, socket, note, an ephemeral root's writes).
 */
export async function clearRunState(paths: BoxPaths): Promise<void> {
  const addon = loadAddon();
  const left: string[] = [];
  for (const dir of readRuntime(paths)?.cgroups ?? []) {
    // Empty within moments: the init is dead, so is everything in its PID namespace.
    if ((await removeCgroupTreeWithin(addon, dir, 2000)) !== 0) left.push(dir);
  }
  if (left.length > 0) process.stderr.write(`jail: cannot remove ${left.join(', ')}; the next jail started with the same cgroup parent removes it\n`);
  fs.rmSync(paths.run, { recursive: true, force: true, maxRetries: 2 });
}

/** Whether the box runs under the native launcher (nothing of Node stays). */
export function launcherSupervised(record: BoxRecord): boolean {
  return record.network === 'none';
}

/** Everything before the launch: run/ fresh, the layers, the init's fds, the jail's config. */
async function prepareBox(paths: BoxPaths, record: BoxRecord, readyFd: number, mode: 'ONCE' | 'EXECVE', env: NodeJS.ProcessEnv): Promise<{ config: LoadedConfig; fds: InitFds }> {
  await clearRunState(paths);
  prepareLayers(record, paths, env);
  const fds = { control: loadAddon().boxListen(paths.socket), note: fs.openSync(paths.note, 'a', 0o600), ready: readyFd };
  return { config: configFromObject(boxJailConfig(record, paths, lowerDir(record, paths, env), fds, mode, env), `box ${record.name}`), fds };
}

function runtimeFor(pid: number, cgroups: string[]): BoxRuntime {
  return { supervisorPid: pid, supervisorStart: processStart(pid) ?? '', started: new Date().toISOString(), cgroups };
}

function startingLine(record: BoxRecord, supervisor: string): string {
  const root = `${record.image ?? "the host's system directories"}, ${record.persistent ? 'persistent' : 'ephemeral'}`;
  return `box ${record.name}: starting (root: ${root}; workspace: ${record.workspace?.path ?? 'none'}; network: ${record.network}; supervisor: ${supervisor})`;
}

/**
 * Starts a box without a network under a launcher of its own, from this process (no Node
 * start-up on the way, none left running); resolves to the pipe on which its init says it serves
 * (EOF without a line: it failed, and the launcher said why in the log).
 */
export async function startUnderLauncher(paths: BoxPaths, record: BoxRecord, env: NodeJS.ProcessEnv): Promise<number> {
  const addon = loadAddon();
  const [readyRead, readyWrite] = addon.pipe();
  const logFd = fs.openSync(paths.log, 'a', 0o600);
  const log = makeLogger((e) => fs.writeSync(logFd, `${formatLogLine(e)}\n`), 'info');
  let fds: InitFds | null = null;
  try {
    const prepared = await prepareBox(paths, record, readyWrite, 'EXECVE', env);
    fds = prepared.fds;
    const filter = compileConfigPolicy(prepared.config, paths.dir);
    // JAIL_BOX names the box in `ps e` (the jail's own environment comes from its plan).
    const launched = spawnLauncher([fds.control, fds.note, fds.ready], builtProgram('jail_box_init'), logFd, { JAIL_BOX: paths.dir }, (host) => buildPlan(prepared.config, { command: [], env, cwd: paths.dir, filter, host }), log);
    log.info(`${startingLine(record, 'jail_exec')}, pid ${launched.pid}`);
    for (const w of launched.planned.warnings) log.warn(w);
    writeJson(paths.runtime, runtimeFor(launched.pid, launched.planned.plan.cgroup?.dirs ?? []));
    return readyRead;
  } catch (e) {
    addon.close(readyRead);
    await clearRunState(paths);
    throw e;
  } finally {
    for (const fd of [logFd, readyWrite, fds?.control ?? -1, fds?.note ?? -1]) if (fd >= 0) fs.closeSync(fd);
  }
}

/**
 * `jail box _supervise NAME STARTER`: the supervisor process of a networked box (it runs the
 * link). STARTER is "PID.START" of the `box start` that spawned it and holds the box's lock: if
 * that was killed meanwhile, the lock may already be another command's, so nothing is launched.
 */
export async function superviseBox(name: string, readyFd: number, starter: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const paths = new BoxPaths(name, env);
  let told = false;
  try {
    const record = readRecord(paths);
    process.stderr.write(`${startingLine(record, 'jail (Node)')}, pid ${process.pid}\n`);
    const { config } = await prepareBox(paths, record, -1, 'ONCE', env);
    const [pid, start] = starter.split('.');
    if (processStart(Number(pid)) !== start) throw new JailError('setup', `box '${name}': the jail box start that started this supervisor (pid ${pid}) is gone; nothing was launched`);
    writeJson(paths.runtime, runtimeFor(process.pid, []));
    return await superviseInNode(name, paths, config, env, () => {
      told = true;
      tell(readyFd, { ok: true });
    });
  } catch (e) {
    process.stderr.write(`${formatError(e)}\n`);
    if (!told) tell(readyFd, { ok: false, error: { message: (e as Error).message, hint: e instanceof JailError ? e.hint : undefined } });
    await clearRunState(paths);
    return 1;
  }
}

async function superviseInNode(name: string, paths: BoxPaths, config: LoadedConfig, env: NodeJS.ProcessEnv, onReady: () => void): Promise<number> {
  const controller = new AbortController();
  let initKill: ((sig: NodeJS.Signals) => void) | null = null;
  const stop = () => {
    initKill?.('SIGTERM');
    setTimeout(() => controller.abort(), STOP_GRACE_MS).unref();
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, stop);
  let ready = false;
  try {
    const report = await run({
      config,
      env,
      stdin: 'ignore',
      stdout: 'inherit',
      stderr: 'inherit',
      signal: controller.signal,
      logLevel: 'info',
      onLog: (e) => process.stderr.write(`${formatLogLine(e)}\n`),
      onStart: (jail) => {
        initKill = (sig) => jail.kill(sig);
        ready = true;
        onReady();
      },
    });
    process.stderr.write(`box ${name} ended: ${JSON.stringify({ outcome: report.outcome, exitCode: report.exitCode, signal: report.signal, error: report.error })}\n`);
    if (!ready) {
      const why = report.error ? `${report.error.stage}: ${report.error.message}` : `the init ended before it ran (${report.outcome})`;
      throw new JailError('setup', `box '${name}' could not start: ${why}`, { hint: `jail box logs ${name} has the whole log` });
    }
    return report.exitCode;
  } finally {
    if (ready) await clearRunState(paths);
  }
}
