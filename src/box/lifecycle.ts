/**
 * Creating, starting, stopping and removing boxes, and what `ls` and `status` say about them.
 * Every change holds the box's lock; a box whose supervisor died ("broken") is cleaned up by the
 * next command that looks at it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import { packageRoot } from '../package-root';
import { NET_PRESETS } from '../config/types';
import { parseAllow, parsePublish } from '../net/destination';
import { loadAddon } from '../native/addon';
import { POLICY_DIR } from '../run';
import { execInBox } from './exec';
import { DEFAULT_SECCOMP_POLICY } from './jail-config';
import { CACHE_DIRS, parseSettings, resolveProfile, settingsFiles, type BoxNetwork, type ProfileSettings } from './profiles';
import { listImages } from './images';
import { lowerDir } from './root';
import { stateRoot } from './state-dir';
import { clearRunState, launcherSupervised, startUnderLauncher, type ReadyMessage } from './supervisor';
import { BoxPaths, boxState, initPidOf, listBoxNames, processStart, readRecord, supervisorAlive, withLock, writeJson, type BoxRecord, type BoxRuntime, type BoxState } from './store';
import { resolveWorkspace } from './workspace';

export interface BoxCreateOptions extends ProfileSettings {
  /** DIR or DIR:ro: bound at /workspace. */
  workspace?: string;
  profile?: string;
  /** Where to look for a project's jail.json and resolve relative paths (default process.cwd()). */
  cwd?: string;
  /** Host uid/gid the box's user maps to (default: yours; as root: the workspace's owner). */
  uid?: number;
  gid?: number;
  /** A settings file to use instead of jail.json and ~/.config/jail/jail.json. */
  settingsFile?: string;
}

export interface BoxInfo {
  name: string;
  state: BoxState;
  image: string | null;
  workspace: string | null;
  profile: string | null;
  persistent: boolean;
  network: BoxNetwork;
  created: string;
  started: string | null;
  uptimeSeconds: number | null;
  /** The box's current memory use (its cgroup), when running and known. */
  memoryBytes: number | null;
  /** Its init's pid on the host, when running. */
  initPid: number | null;
}

/** How long `start` waits for the supervisor to say whether the box came up. */
const START_TIMEOUT_MS = 60_000;

function hostIds(options: BoxCreateOptions, workspace: string | null): { uid: number; gid: number } {
  if (options.uid !== undefined) return { uid: options.uid, gid: options.gid ?? options.uid };
  if (process.getuid!() !== 0) return { uid: process.getuid!(), gid: process.getgid!() };
  // As root, the box's user is the workspace's owner (its files stay theirs), else nobody: never
  // host root, which owns the system's files and would keep owner access to them.
  if (workspace !== null) {
    const st = fs.statSync(workspace);
    if (st.uid === 0) {
      throw new JailError('usage', `--workspace ${workspace} is owned by root; as root, a box's user takes the workspace owner's host uid, and root's would give it owner access to the host's files`, {
        hint: 'chown the workspace to an unprivileged user, or pass --uid UID',
      });
    }
    return { uid: st.uid, gid: st.gid };
  }
  return { uid: 65534, gid: 65534 };
}

function checkSettings(s: ProfileSettings): void {
  const net = s.network ?? 'none';
  if (net !== 'full' && !(NET_PRESETS as readonly string[]).includes(net)) throw new JailError('usage', `network '${net}' is not one of none, limited, internet, full, host`);
  s.allow?.forEach(parseAllow);
  s.publish?.forEach(parsePublish);
  for (const c of s.persistCaches ?? []) if (!(c in CACHE_DIRS)) throw new JailError('usage', `'${c}' is not a cache jail knows`, { hint: `accepted: ${Object.keys(CACHE_DIRS).join(', ')}` });
}

export async function createBox(name: string, options: BoxCreateOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<BoxRecord> {
  const paths = new BoxPaths(name, env);
  const cwd = options.cwd ?? process.cwd();
  const workspace = options.workspace !== undefined ? resolveWorkspace(options.workspace, cwd, env) : null;
  const files = options.settingsFile !== undefined ? [parseSettings(options.settingsFile, fs.readFileSync(options.settingsFile, 'utf8'))] : settingsFiles(workspace?.path ?? cwd, env);
  const fromFiles = resolveProfile(files, options.profile ?? null);
  const flags = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ProfileSettings;
  const s: ProfileSettings = { ...fromFiles, ...flags };
  checkSettings(s);
  const seccompPolicy = s.seccompPolicy !== undefined ? path.resolve(cwd, s.seccompPolicy) : DEFAULT_SECCOMP_POLICY;
  // Compiled now, so a bad policy is an error at create, not a box that cannot start. (Loaded
  // here: the compiler and its tables are most of jail's code.)
  (require('../policy') as typeof import('../policy')).compilePolicyFile(seccompPolicy, { includePaths: [POLICY_DIR] });
  const ids = hostIds(options, workspace?.path ?? null);
  const record: BoxRecord = {
    version: 1,
    name,
    created: new Date().toISOString(),
    image: s.image ?? null,
    imageEnv: {},
    workspace: workspace && { path: workspace.path, readOnly: workspace.readOnly || s.workspaceWritable === false },
    profile: options.profile ?? null,
    persistent: s.persistent ?? false,
    network: s.network ?? 'none',
    allow: s.allow ?? [],
    publish: s.publish ?? [],
    resources: { memoryBytes: s.memoryBytes ?? null, cpus: s.cpus ?? null, pids: s.pids ?? null },
    idleSeconds: s.idleSeconds ?? 0,
    setup: s.setup ?? null,
    setupDone: false,
    caches: s.persistCaches ?? [],
    protect: { readOnly: s.readOnly ?? [], hidden: s.hidden ?? [] },
    seccompPolicy,
    hostUid: ids.uid,
    hostGid: ids.gid,
  };
  if (record.image !== null) {
    lowerDir(record, paths, env);
    record.imageEnv = imageEnvOf(record.image, env);
  }
  // 0711: the box user (as root, another uid) passes through to its layers; nothing is listable.
  fs.mkdirSync(path.dirname(path.dirname(paths.dir)), { recursive: true, mode: 0o711 });
  fs.mkdirSync(path.dirname(paths.dir), { recursive: true, mode: 0o711 });
  try {
    fs.mkdirSync(paths.dir, { mode: 0o711 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new JailError('usage', `box '${name}' already exists`, { hint: `jail box start ${name}, or jail box rm ${name} first` });
    throw e;
  }
  await withLock(paths, async () => writeJson(paths.record, record));
  return record;
}

/** An image's Env ("NAME=value" lines) as a map. */
function imageEnvOf(image: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const info = listImages({ stateDir: stateRoot(env) }).find((i) => i.name === image);
  const out: Record<string, string> = {};
  for (const line of info?.config?.env ?? []) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The jail script that starts supervisors: this package's bin/jail, whoever calls the library. */
const jailBin = () => path.join(packageRoot(), 'bin', 'jail');

export interface StartResult {
  record: BoxRecord;
  /** The setup script's output, when it ran (first start). */
  setupOutput?: string;
}

export async function startBox(name: string, options: { onSetupOutput?: (chunk: string) => void } = {}, env: NodeJS.ProcessEnv = process.env): Promise<StartResult> {
  const paths = new BoxPaths(name, env);
  const result = await withLock(paths, async () => {
    const record = readRecord(paths);
    const { state, runtime } = boxState(paths);
    if (state === 'running') throw new JailError('usage', `box '${name}' is already running (supervisor pid ${runtime!.supervisorPid})`, { hint: `jail box exec ${name} -- cmd, or jail box stop ${name}` });
    await clearRunState(paths);
    await spawnSupervisor(paths, env);
    return { record };
  });
  if (result.record.setup === null || result.record.setupDone) return result;
  // The setup script runs once, inside, as the box's user, at the first start.
  const r = await execInBox(name, ['/bin/sh', '-c', result.record.setup], { stdout: 'capture', stderr: 'capture' }, env);
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  options.onSetupOutput?.(output);
  if (r.exitCode !== 0) {
    await stopBox(name, env);
    throw new JailError('setup', `box '${name}': its setup script failed with exit code ${r.exitCode}${output ? `:\n${output.trimEnd().split('\n').slice(-10).join('\n')}` : ''}`, {
      hint: `fix "setup" in the settings; it runs again at the next start (jail box start ${name})`,
    });
  }
  await withLock(paths, async () => writeJson(paths.record, { ...readRecord(paths), setupDone: true }));
  return { ...result, setupOutput: output };
}

async function spawnSupervisor(paths: BoxPaths, env: NodeJS.ProcessEnv): Promise<void> {
  const record = readRecord(paths);
  let readEnd: number;
  if (launcherSupervised(record)) readEnd = await startUnderLauncher(paths, record, env);
  else {
    const log = fs.openSync(paths.log, 'a', 0o600);
    const [r, writeEnd] = loadAddon().pipe();
    readEnd = r;
    try {
      spawn(process.execPath, [jailBin(), 'box', '_supervise', paths.name, `${process.pid}.${processStart(process.pid)}`], { detached: true, stdio: ['ignore', log, log, writeEnd], env: { ...env } }).unref();
    } finally {
      fs.closeSync(log);
      fs.closeSync(writeEnd);
    }
  }
  const message = await readReady(readEnd);
  if (!message.ok) {
    // The launcher says why on its stderr, the log, and exits: the line before nothing.
    const why = message.error?.message ?? lastLogLine(paths) ?? `box '${paths.name}' could not start`;
    await clearRunState(paths);
    throw new JailError('setup', why, { hint: message.error?.hint ?? `jail box logs ${paths.name} has the whole log` });
  }
}

function lastLogLine(paths: BoxPaths): string | null {
  try {
    const lines = fs.readFileSync(paths.log, 'utf8').trimEnd().split('\n');
    return `box '${paths.name}' could not start: ${lines[lines.length - 1].replace(/^\[E\] /, '')}`;
  } catch {
    return null;
  }
}

/** The supervisor's one line on fd 3 (or its init's); EOF without one means the start failed. */
function readReady(fd: number): Promise<ReadyMessage> {
  const { Socket } = require('node:net') as typeof import('node:net');
  const sock = new Socket({ fd, readable: true, writable: false });
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => finish({ ok: false, error: { message: `the box's supervisor said nothing within ${START_TIMEOUT_MS / 1000} s` } }), START_TIMEOUT_MS);
    const finish = (m: ReadyMessage) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(m);
    };
    sock.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) finish(JSON.parse(text.slice(0, nl)) as ReadyMessage);
    });
    sock.on('close', () => finish({ ok: false }));
    sock.on('error', () => undefined);
  });
}

/**
 * Stops a running box (SIGTERM to its supervisor, which ends the init; waits for it) and cleans
 * up after it, or after a box that ended by itself or broke. True if it was running or broken.
 */
export async function stopBox(name: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const paths = new BoxPaths(name, env);
  return withLock(paths, async () => {
    readRecord(paths);
    const { state, runtime } = boxState(paths);
    if (state === 'running') await killSupervisor(runtime!);
    await clearRunState(paths);
    return state !== 'stopped';
  });
}

async function killSupervisor(rt: BoxRuntime): Promise<void> {
  process.kill(rt.supervisorPid, 'SIGTERM');
  // Its init gets 3 s for its programs; the supervisor then kills the rest and cleans up.
  const deadline = Date.now() + 10_000;
  while (supervisorAlive(rt)) {
    if (Date.now() > deadline) {
      process.kill(rt.supervisorPid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function removeBox(name: string, options: { force?: boolean } = {}, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const paths = new BoxPaths(name, env);
  readRecord(paths);
  const { state } = boxState(paths);
  if (state === 'running') {
    if (!options.force) throw new JailError('usage', `box '${name}' is running`, { hint: `stop it first (jail box stop ${name}) or use --force` });
    await stopBox(name, env);
  }
  await withLock(paths, async () => {
    // The lock file goes last, with the directory.
    for (const entry of fs.readdirSync(paths.dir)) if (entry !== 'lock') fs.rmSync(path.join(paths.dir, entry), { recursive: true, force: true });
  });
  fs.rmSync(paths.dir, { recursive: true, force: true });
}

function memoryOf(initPid: number): number | null {
  try {
    const line = fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8').split('\n');
    const v2 = line.find((l) => l.startsWith('0::'));
    const v1 = line.find((l) => /^\d+:[^:]*\bmemory\b/.test(l));
    const file = v1 ? `/sys/fs/cgroup/memory${v1.split(':')[2]}/memory.usage_in_bytes` : v2 ? `/sys/fs/cgroup${v2.slice(3)}/memory.current` : null;
    return file ? Number(fs.readFileSync(file, 'utf8').trim()) : null;
  } catch {
    return null;
  }
}

export function boxInfo(name: string, env: NodeJS.ProcessEnv = process.env): BoxInfo {
  const paths = new BoxPaths(name, env);
  const record = readRecord(paths);
  const { state, runtime } = boxState(paths);
  const running = state === 'running' && runtime !== null;
  const init = running ? initPidOf(runtime) : null;
  return {
    name,
    state,
    image: record.image,
    workspace: record.workspace ? `${record.workspace.path}${record.workspace.readOnly ? ':ro' : ''}` : null,
    profile: record.profile,
    persistent: record.persistent,
    network: record.network,
    created: record.created,
    started: running ? runtime.started : null,
    uptimeSeconds: running ? Math.round((Date.now() - Date.parse(runtime.started)) / 1000) : null,
    memoryBytes: running && init !== null ? memoryOf(init) : null,
    initPid: running ? init : null,
  };
}

/** Every box; what stopped or broken ones left (run/, cgroups) is cleaned up as they are found. */
export async function listBoxes(env: NodeJS.ProcessEnv = process.env): Promise<BoxInfo[]> {
  const out: BoxInfo[] = [];
  for (const name of listBoxNames(env)) {
    const info = boxInfo(name, env);
    if (info.state !== 'running') {
      await stopBox(name, env);
      out.push({ ...boxInfo(name, env), state: info.state });
    } else out.push(info);
  }
  return out;
}
