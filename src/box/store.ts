/**
 * A box on disk, under `<stateRoot>/boxes/NAME/`:
 *   box.json    what it is (BoxRecord), written at create, rewritten atomically
 *   lock        held by the command changing it (create, start, stop, rm), with that command's pid
 *   log         its supervisor's log
 *   base/       the lower layer of its root when it has no image (mount points only)
 *   upper/ work/  the root's writes, kept across stops (--persistent)
 *   run/        exists while it runs: state.json (BoxRuntime), ctl.sock (its init's control
 *               socket), note (where its init writes a clean end), and the root's writes of an
 *               ephemeral box (upper/, work/)
 * No daemon: whether a box runs is whether the supervisor named in run/state.json is alive.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseStartTime } from '../cgroup/facts';
import { JailError } from '../errors';
import type { BoxNetwork } from './profiles';
import { checkName, stateRoot } from './state-dir';

export interface BoxRecord {
  version: 1;
  name: string;
  created: string;
  /** An image from `jail image`, or null: the host's system directories, read-only. */
  image: string | null;
  /** The image's own environment (its config's Env), under every exec's. */
  imageEnv: Record<string, string>;
  workspace: { path: string; readOnly: boolean } | null;
  profile: string | null;
  persistent: boolean;
  network: BoxNetwork;
  allow: string[];
  publish: string[];
  resources: { memoryBytes: number | null; cpus: number | null; pids: number | null };
  /** 0: up until stopped; N: stops itself after N seconds with no exec running. */
  idleSeconds: number;
  setup: string | null;
  setupDone: boolean;
  caches: string[];
  protect: { readOnly: string[]; hidden: string[] };
  seccompPolicy: string;
  /** Who the box's user is on the host (files it creates in the workspace belong to them). */
  hostUid: number;
  hostGid: number;
}

export interface BoxRuntime {
  /** The supervisor: `jail box _supervise` (Node), or the native launcher it became (execve mode). */
  supervisorPid: number;
  /** /proc/PID/stat start time of the supervisor, so a reused pid is never taken for it. */
  supervisorStart: string;
  started: string;
  /** The box's cgroups when its supervisor is the native launcher, which cannot remove them. */
  cgroups: string[];
}

export type BoxState = 'running' | 'stopped' | 'broken';

export class BoxPaths {
  readonly dir: string;
  readonly record: string;
  readonly lock: string;
  readonly log: string;
  readonly base: string;
  readonly run: string;
  readonly runtime: string;
  readonly socket: string;
  readonly note: string;
  constructor(
    readonly name: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.dir = path.join(stateRoot(env), 'boxes', checkName('box', name));
    this.record = path.join(this.dir, 'box.json');
    this.lock = path.join(this.dir, 'lock');
    this.log = path.join(this.dir, 'log');
    this.base = path.join(this.dir, 'base');
    this.run = path.join(this.dir, 'run');
    this.runtime = path.join(this.run, 'state.json');
    this.socket = path.join(this.run, 'ctl.sock');
    this.note = path.join(this.run, 'note');
  }
  exists(): boolean {
    return fs.existsSync(this.record);
  }
  /** Where the root's writes go: kept (persistent) or under run/ (gone at stop). */
  layer(persistent: boolean): { upper: string; work: string } {
    const at = persistent ? this.dir : this.run;
    return { upper: path.join(at, 'upper'), work: path.join(at, 'work') };
  }
}

export function boxesDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateRoot(env), 'boxes');
}

export function readRecord(p: BoxPaths): BoxRecord {
  let text: string;
  try {
    text = fs.readFileSync(p.record, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new JailError('usage', `no box '${p.name}'`, { hint: `jail box ls lists them; create it with jail box create ${p.name}` });
    }
    throw e;
  }
  return JSON.parse(text) as BoxRecord;
}

/** Replaces a JSON file whole (write, then rename), so a reader never sees half of it. */
export function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readRuntime(p: BoxPaths): BoxRuntime | null {
  try {
    return JSON.parse(fs.readFileSync(p.runtime, 'utf8')) as BoxRuntime;
  } catch {
    return null;
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or null if no such process (or a zombie). */
export function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return null;
    const start = parseStartTime(stat);
    return start === null ? null : String(start);
  } catch {
    return null;
  }
}

export function supervisorAlive(rt: BoxRuntime): boolean {
  return processStart(rt.supervisorPid) === rt.supervisorStart;
}

/**
 * running: its supervisor lives. stopped: no run/ left, or its init wrote a clean end (idle, or
 * stopped) and the supervisor that could not clean up (the native launcher) is gone. broken: the
 * supervisor is gone and the init never said why (killed, out of memory, the supervisor killed).
 */
export function boxState(p: BoxPaths): { state: BoxState; runtime: BoxRuntime | null } {
  const runtime = readRuntime(p);
  if (runtime !== null && supervisorAlive(runtime)) return { state: 'running', runtime };
  if (!fs.existsSync(p.run)) return { state: 'stopped', runtime: null };
  let note = '';
  try {
    note = fs.readFileSync(p.note, 'utf8');
  } catch {
    // none: not a clean end
  }
  return { state: note === '' ? 'broken' : 'stopped', runtime: null };
}

/** The box's init on the host: the supervisor's child running jail_box_init. */
export function initPidOf(rt: BoxRuntime): number | null {
  try {
    const children = fs.readFileSync(`/proc/${rt.supervisorPid}/task/${rt.supervisorPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return children.find((c) => fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'jail_box_init') ?? null;
  } catch {
    return null;
  }
}

export function listBoxNames(env: NodeJS.ProcessEnv = process.env): string[] {
  try {
    return fs
      .readdirSync(boxesDir(env))
      .filter((n) => fs.existsSync(path.join(boxesDir(env), n, 'box.json')))
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

const LOCK_WAIT_MS = 10_000;

/**
 * Runs fn holding the box's lock: a file made with O_EXCL holding the holder's pid. A lock whose
 * holder is gone (a command killed midway) is taken over; a live holder is waited for, then named.
 */
export async function withLock<T>(p: BoxPaths, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.writeFileSync(p.lock, `${process.pid} ${processStart(process.pid)}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const [pid, start] = readLockHolder(p.lock);
    if (pid === null || processStart(pid) !== start) {
      fs.rmSync(p.lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new JailError('setup', `box '${p.name}' is busy: another jail command (pid ${pid}) is changing it`, { hint: 'wait for it to finish, or stop that command' });
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(p.lock, { force: true });
  }
}

function readLockHolder(file: string): [number | null, string | null] {
  try {
    const [pid, start] = fs.readFileSync(file, 'utf8').trim().split(' ');
    return [Number(pid) || null, start ?? null];
  } catch {
    return [null, null];
  }
}
