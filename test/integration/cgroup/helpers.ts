/**
 * Helpers of the cgroup integration tests: which cgroup layout this host has (the tests assert
 * v1 or v2 files accordingly), where a running jail's cgroups are, and the cgroups jail left
 * anywhere for a given supervisor pid. Reads only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configFromObject } from '../../../src/config/load';
import { chooseCgroupVersion } from '../../../src/sandbox/cgroup';
import { parseCgroupMounts, realCgroupFacts } from '../../../src/sandbox/cgroup-host';
import { parseCgroupName } from '../../../src/sandbox/cgroup-name';

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
