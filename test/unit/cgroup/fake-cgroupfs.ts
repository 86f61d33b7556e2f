/**
 * A cgroup filesystem on a temporary directory, behind the addon's cgroup functions, for unit
 * tests of the supervisor's cgroup session. It acts like the kernel where the session depends
 * on it: a new cgroup directory comes with its control files, writing a pid to cgroup.procs
 * moves that pid from wherever it was, cgroup.subtree_control refuses "+controller" with EBUSY
 * while the cgroup holds processes (outside the top directory, which plays the root), rmdir
 * refuses a cgroup with processes or children, cgroup.kill and a SIGKILL through a pidfd "kill"
 * by taking pids out of cgroup.procs. A pid is a live process while some cgroup.procs lists it;
 * a pidfd stands for its pid, and kill() through it hits whichever process has that pid then (a
 * pessimistic kernel: the session must not rely on the fake to spare a recycled pid). Pids are
 * made up (never signalled for real); files the session reads back (memory.peak, pids.events,
 * ...) are set by the test.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NativeAddon } from '../../../src/native/types';

const ENOENT = 2;
const EEXIST = 17;
const EBUSY = 16;
const ESRCH = 3;

/** The files a new cgroup gets: v1 by hierarchy (the first path component), v2 all of them. */
const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': '9223372036854771712\n',
    'memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.max_usage_in_bytes': '0\n',
  },
  pids: { 'pids.max': 'max\n', 'pids.events': 'max 0\n' },
  cpu: { 'cpu.cfs_period_us': '100000\n', 'cpu.cfs_quota_us': '-1\n' },
  cpuacct: { 'cpuacct.usage': '0\n' },
  freezer: { 'freezer.state': 'THAWED\n' },
  net_cls: { 'net_cls.classid': '0\n' },
};
const V2_FILES: Record<string, string> = {
  'cgroup.type': 'domain\n',
  'cgroup.controllers': 'cpu memory pids\n',
  'cgroup.subtree_control': '',
  'cgroup.events': 'populated 0\nfrozen 0\n',
  'cgroup.kill': '',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
  'cpu.max': 'max 100000\n',
  'memory.max': 'max\n',
  'memory.swap.max': 'max\n',
  'memory.oom.group': '0\n',
  'memory.peak': '0\n',
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  'pids.max': 'max\n',
  'pids.events': 'max 0\n',
};

export interface Op {
  fn: string;
  path?: string;
  content?: string;
  pid?: number;
  errno: number;
}

export class FakeCgroupFs {
  readonly root: string;
  readonly ops: Op[] = [];
  /** Control files a new v2 cgroup lacks (an older kernel, no swap accounting). */
  readonly missing = new Set<string>();
  /** Writes that fail with an errno, by path. */
  readonly failWrites = new Map<string, number>();
  /** mkdir calls that fail with an errno, by path. */
  readonly failMkdir = new Map<string, number>();
  readonly killed: number[] = [];
  /** A member cannot be frozen (uninterruptible sleep): freezer.state stays FREEZING. */
  freezeHangs = false;
  /** Runs inside pidfdOpen, after the pidfd is made: a test moves processes here. */
  onPidfdOpen: ((pid: number) => void) | null = null;
  private nextFd = 900_000;
  readonly openFds = new Set<number>();
  private readonly pidfds = new Map<number, number>();

  constructor(readonly version: 1 | 2) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'jail-cgroupfs-'));
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** A path in the fake filesystem ("memory/NSJAIL" -> <root>/memory/NSJAIL). */
  at(rel: string): string {
    return path.join(this.root, rel);
  }

  /** Creates a cgroup (and its parents) as if it existed already; returns its path. */
  cgroup(rel: string, procs: number[] = []): string {
    const dir = this.at(rel);
    let d = this.root;
    for (const part of rel.split('/')) {
      d = path.join(d, part);
      if (!fs.existsSync(d)) this.populate(d);
    }
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), procs.map((p) => `${p}\n`).join(''));
    return dir;
  }

  set(rel: string, content: string): void {
    fs.writeFileSync(this.at(rel), content);
  }

  get(rel: string): string | null {
    try {
      return fs.readFileSync(this.at(rel), 'utf8');
    } catch {
      return null;
    }
  }

  exists(rel: string): boolean {
    return fs.existsSync(this.at(rel));
  }

  procs(dir: string): number[] {
    try {
      return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  private populate(dir: string): void {
    fs.mkdirSync(dir);
    const files =
      this.version === 2 ? V2_FILES : (V1_FILES[path.relative(this.root, dir).split(path.sep)[0]] ?? {});
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), '');
    for (const [name, content] of Object.entries(files)) {
      if (!this.missing.has(name)) fs.writeFileSync(path.join(dir, name), content);
    }
  }

  private allProcsFiles(dir = this.root): string[] {
    const out = [path.join(dir, 'cgroup.procs')];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...this.allProcsFiles(path.join(dir, e.name)));
    return out.filter((f) => fs.existsSync(f));
  }

  /** Moves `pid` into the cgroup `rel` (as a write to its cgroup.procs would). */
  move(pid: number, rel: string): void {
    this.takeOut(pid);
    fs.appendFileSync(path.join(this.at(rel), 'cgroup.procs'), `${pid}\n`);
  }

  private alive(pid: number): boolean {
    return this.allProcsFiles().some((f) => this.procs(path.dirname(f)).includes(pid));
  }

  private takeOut(pid: number, under = this.root): void {
    for (const f of this.allProcsFiles(under)) {
      const left = fs.readFileSync(f, 'utf8').split('\n').filter((l) => l !== '' && Number(l) !== pid);
      fs.writeFileSync(f, left.map((l) => `${l}\n`).join(''));
    }
  }

  private inside(p: string): boolean {
    return p === this.root || p.startsWith(this.root + path.sep);
  }

  private record(op: Op): number {
    this.ops.push(op);
    return op.errno;
  }

  /** The addon's cgroup functions over this filesystem; touching any other member throws (the session must not need it). */
  addon(): NativeAddon {
    const unused = (name: string) => {
      throw new Error(`fake cgroupfs: addon.${name} is not expected here`);
    };
    const outside = (p: string) => {
      throw new Error(`fake cgroupfs: ${p} is outside ${this.root}`);
    };
    const fns: Partial<NativeAddon> = {
      openPath: (p, directory) => {
        if (!this.inside(p)) outside(p);
        if (!directory || !fs.existsSync(p)) throw Object.assign(new Error(`open ${p}`), { errno: ENOENT });
        const fd = this.nextFd++;
        this.openFds.add(fd);
        this.record({ fn: 'openPath', path: p, errno: 0 });
        return fd;
      },
      close: (fd) => {
        this.pidfds.delete(fd);
        this.record({ fn: 'close', errno: this.openFds.delete(fd) ? 0 : 9 });
        return 0;
      },
      cgroupMkdir: (p) => {
        if (!this.inside(p)) outside(p);
        const fail = this.failMkdir.get(p);
        if (fail !== undefined) return this.record({ fn: 'mkdir', path: p, errno: fail });
        if (!fs.existsSync(path.dirname(p))) return this.record({ fn: 'mkdir', path: p, errno: ENOENT });
        if (fs.existsSync(p)) return this.record({ fn: 'mkdir', path: p, errno: EEXIST });
        this.populate(p);
        return this.record({ fn: 'mkdir', path: p, errno: 0 });
      },
      cgroupRmdir: (p) => {
        if (!this.inside(p)) outside(p);
        if (!fs.existsSync(p)) return this.record({ fn: 'rmdir', path: p, errno: ENOENT });
        const busy = this.procs(p).length > 0 || fs.readdirSync(p, { withFileTypes: true }).some((e) => e.isDirectory());
        if (busy) return this.record({ fn: 'rmdir', path: p, errno: EBUSY });
        fs.rmSync(p, { recursive: true });
        return this.record({ fn: 'rmdir', path: p, errno: 0 });
      },
      cgroupWrite: (p, content) => {
        if (!this.inside(p)) outside(p);
        const fail = this.failWrites.get(p);
        if (fail !== undefined) return this.record({ fn: 'write', path: p, content, errno: fail });
        if (!fs.existsSync(p)) return this.record({ fn: 'write', path: p, content, errno: ENOENT });
        const dir = path.dirname(p);
        switch (path.basename(p)) {
          case 'cgroup.procs':
            this.takeOut(Number(content));
            fs.appendFileSync(p, `${Number(content)}\n`);
            break;
          case 'cgroup.subtree_control':
            if (dir !== this.root && content.startsWith('+') && this.procs(dir).length > 0) return this.record({ fn: 'write', path: p, content, errno: EBUSY });
            fs.appendFileSync(p, `${content}\n`);
            break;
          case 'freezer.state':
            fs.writeFileSync(p, content === 'FROZEN' && this.freezeHangs ? 'FREEZING' : content);
            break;
          case 'cgroup.kill':
            for (const f of this.allProcsFiles(dir)) fs.writeFileSync(f, '');
            break;
          default:
            fs.writeFileSync(p, content);
        }
        return this.record({ fn: 'write', path: p, content, errno: 0 });
      },
      cgroupRead: (p) => {
        if (!this.inside(p)) outside(p);
        let text: string | null = null;
        try {
          text = fs.readFileSync(p, 'utf8');
        } catch {
          // missing
        }
        if (text !== null && path.basename(p) === 'cgroup.events') {
          text = text.replace(/^populated \d$/m, `populated ${this.allProcsFiles(path.dirname(p)).some((f) => this.procs(path.dirname(f)).length > 0) ? 1 : 0}`);
        }
        return text === null ? [null, ENOENT] : [text, 0];
      },
      pidfdOpen: (pid) => {
        if (!this.alive(pid)) return -this.record({ fn: 'pidfdOpen', pid, errno: ESRCH });
        const fd = this.nextFd++;
        this.openFds.add(fd);
        this.pidfds.set(fd, pid);
        this.record({ fn: 'pidfdOpen', pid, errno: 0 });
        this.onPidfdOpen?.(pid);
        return fd;
      },
      kill: (fd, signal) => {
        const pid = this.pidfds.get(fd);
        if (pid === undefined) return this.record({ fn: 'kill', errno: 9 });
        if (!this.alive(pid)) return this.record({ fn: 'kill', pid, content: String(signal), errno: ESRCH });
        this.killed.push(pid);
        this.takeOut(pid);
        return this.record({ fn: 'kill', pid, content: String(signal), errno: 0 });
      },
    };
    return new Proxy(fns, { get: (t, k) => (typeof k === 'string' ? (t[k as keyof NativeAddon] ?? unused(k)) : undefined) }) as NativeAddon;
  }
}
