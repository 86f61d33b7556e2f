/**
 * Helpers of the cgroup integration tests: which cgroup layout this host has (the tests assert
 * v1 or v2 files accordingly), where a running jail's cgroups are, the cgroups jail left anywhere
 * for a given supervisor pid; and, for placement tests, cgroups of the tests' own with the jail
 * CLI started inside them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configFromObject } from '../../../src/config/load';
import { chooseCgroupVersion } from '../../../src/cgroup/plan';
import { parseCgroupMounts, realCgroupFacts } from '../../../src/cgroup/facts';
import { parseCgroupName } from '../../../src/cgroup/name';
import { JAIL_BIN, REPO, SYSTEM_PATH } from '../core/helpers';

/** 1 or 2; throws (failing the test, never skipping it) when this host has no cgroups. */
export function cgroupVersion(): 1 | 2 {
  const v = chooseCgroupVersion(configFromObject({}), realCgroupFacts());
  if (v === null) throw new Error('this host mounts no cgroup filesystem: the cgroup tests need one (see /proc/self/mountinfo)');
  return v;
}

function mounts() {
  return parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The cgroup directories a process is in, by controller ('' for cgroup v2), from /proc/PID/cgroup. */
export function cgroupDirsOf(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  const all = mounts();
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean)) {
    const [, controllers, p] = line.split(/:(.*?):/);
    if (controllers === '') {
      const m = all.find((x) => x.version === 2 && x.path === '/sys/fs/cgroup') ?? all.find((x) => x.version === 2);
      if (m) out.set('', path.join(m.path, path.posix.relative(m.root, p)));
      continue;
    }
    for (const c of controllers.split(',')) {
      const m = all.find((x) => x.version === 1 && x.controllers.includes(c));
      if (m) out.set(c, path.join(m.path, path.posix.relative(m.root, p)));
    }
  }
  return out;
}

/** The directory holding `controller`'s files for `pid` (v2: its one cgroup). */
export function controllerDir(pid: number, controller: string, version: 1 | 2): string {
  const dir = cgroupDirsOf(pid).get(version === 2 ? '' : controller);
  if (!dir) throw new Error(`pid ${pid} is in no ${controller} cgroup`);
  return dir;
}

export function readCgroupFile(dir: string, file: string): string {
  return fs.readFileSync(path.join(dir, file), 'utf8').trim();
}

/**
 * Every cgroup directory jail named for supervisor `pid` (jails and supervisor leaves), in any
 * mounted hierarchy. Walks at most 6 levels deep and 20000 directories.
 */
export function cgroupsOfSupervisor(pid: number): string[] {
  const found: string[] = [];
  let budget = 20000;
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || --budget < 0) continue;
      const sub = path.join(dir, e.name);
      if (parseCgroupName(e.name)?.owner.pid === pid) found.push(sub);
      else if (depth < 6) walk(sub, depth + 1);
    }
  };
  for (const m of mounts()) walk(m.path, 0);
  return found;
}

/** Cgroup directories called `name`, at the top of any mounted hierarchy (v1 and v2). */
export function cgroupsNamed(name: string): string[] {
  return mounts()
    .map((m) => path.join(m.path, name))
    .filter((d) => fs.existsSync(d));
}

/** rmdir of `dirs` and the cgroups below them, deepest first (cleanup after a failed test; they hold no process). */
export function removeEmptyCgroups(dirs: string[]): void {
  for (const dir of dirs) {
    if (fs.existsSync(dir)) for (const d of subtree(dir)) fs.rmdirSync(d);
  }
}

/** Pids of live processes whose cgroup path names supervisor `pid`'s jails. */
export function processesInCgroupsOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (/^\S+ \(.*\) [ZX] /.test(stat)) continue;
      const text = fs.readFileSync(`/proc/${name}/cgroup`, 'utf8');
      if (text.split('\n').some((l) => l.split('/').some((part) => parseCgroupName(part)?.owner.pid === pid))) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Processes started inside a given cgroup, and cgroups the tests make for that

export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The process's pid: it stays the same through the exec into argv. */
  pid: number;
}

const started = new Set<ChildProcess>();

/**
 * Runs argv as a process that first joins each of `cgroups` (writing its pid to cgroup.procs,
 * as root) and then, as `uid` if given (setpriv), execs argv. SIGKILLed after `timeoutMs`.
 */
export function runInCgroups(cgroups: string[], argv: string[], opts: { uid?: number; timeoutMs?: number } = {}): Promise<ProcResult> {
  const join = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs" || exit 97; shift; n=$((n-1)); done; exec "$@"';
  const user = opts.uid === undefined ? [] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups'];
  const child = spawn('/bin/sh', ['-c', join, 'sh', String(cgroups.length), ...cgroups, ...user, ...argv], {
    cwd: REPO,
    env: { ...process.env, PATH: SYSTEM_PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      started.delete(child);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), pid: child.pid! });
    });
  });
}

/** `jail ARGS` (the CLI) inside `cgroups`. */
export function jailIn(cgroups: string[], args: string[], opts: { uid?: number; timeoutMs?: number } = {}): Promise<ProcResult> {
  return runInCgroups(cgroups, [process.execPath, JAIL_BIN, ...args], opts);
}

/** SIGKILLs whatever runInCgroups started and is still running (afterEach). */
export function killStarted(): void {
  for (const child of started) child.kill('SIGKILL');
  started.clear();
}

/** Every cgroup below `dir`, deepest first, then `dir`. */
function subtree(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...subtree(path.join(dir, e.name)));
  return [...out, dir];
}

function procsOf(dir: string): number[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

let testCgroups = 0;

/**
 * A cgroup of the test's own: `<mount>/jail-it-<pid>-<n>` in each of `mounts`. remove() kills
 * every process in it (only processes the test put there, and their jails) and removes it with
 * everything below, within a few seconds.
 */
export function testCgroup(mountPaths: string[]): { dirs: string[]; remove: () => Promise<void> } {
  const name = `jail-it-${process.pid}-${testCgroups++}`;
  const dirs = mountPaths.map((m) => path.join(m, name));
  for (const d of dirs) fs.mkdirSync(d);
  return {
    dirs,
    async remove() {
      for (const dir of dirs.filter((d) => fs.existsSync(d))) {
        const end = Date.now() + 5000;
        for (;;) {
          const all = subtree(dir);
          const pids = all.flatMap(procsOf);
          for (const pid of pids) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // gone
            }
          }
          for (const d of all) {
            try {
              fs.rmdirSync(d);
            } catch {
              // busy for a moment more
            }
          }
          if (!fs.existsSync(dir)) break;
          if (Date.now() > end) throw new Error(`cannot remove test cgroup ${dir}: ${JSON.stringify(subtree(dir))}, pids ${pids}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
  };
}

/** Mount points of the v1 hierarchies with these controllers, or the cgroup2 mount. */
export function mountsFor(version: 1 | 2, controllers: string[]): string[] {
  const all = mounts();
  if (version === 2) return [all.find((m) => m.version === 2 && m.path === '/sys/fs/cgroup')?.path ?? '/sys/fs/cgroup'];
  return controllers.map((c) => {
    const m = all.find((x) => x.version === 1 && x.controllers.includes(c));
    if (!m) throw new Error(`no cgroup v1 hierarchy has ${c}`);
    return m.path;
  });
}
