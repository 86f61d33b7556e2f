/**
 * Fixtures for box tests: a state directory of the test's own (JAIL_STATE_DIR), a workspace owned
 * by an unprivileged uid, the CLI with that environment, and a sweep that removes every box the
 * test made and checks nothing of them is left running.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { initPidOf, type BoxRuntime } from '../../../src/box/store';
import { assertBuilt, cli, JAIL_BIN, killSpawned, SYSTEM_PATH, tempDir, type CliOptions, type CliResult } from '../core/helpers';

export interface BoxFixture {
  /** The test's state directory. */
  state: string;
  /** A scratch directory (0755). */
  dir: string;
  env: NodeJS.ProcessEnv;
  jail(args: string[], opts?: CliOptions): Promise<CliResult>;
  /** A new workspace directory owned by uid:gid. */
  workspace(name: string, uid?: number, gid?: number): string;
}

/** Host pids of box inits (comm jail_box_init) whose state directory is `state`, or orphaned. */
export function initsOf(state: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'jail_box_init') continue;
      // The init's environment is the jail's own; its supervisor's names the state directory.
      const ppid = Number(fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      // An orphan (parent 1) is nobody's box: counted too, it must never exist.
      const parentEnv = fs.readFileSync(`/proc/${ppid}/environ`, 'utf8').split('\0');
      // Its supervisor: the native launcher (JAIL_BOX=<state>/boxes/NAME) or a Node one (JAIL_STATE_DIR).
      if (ppid === 1 || parentEnv.includes(`JAIL_STATE_DIR=${state}`) || parentEnv.some((v) => v.startsWith(`JAIL_BOX=${state}/boxes/`))) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function boxFixture(opts: { owner?: { uid: number; gid: number } } = {}): () => BoxFixture {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let fixture: BoxFixture | undefined;
  beforeAll(() => {
    assertBuilt();
    tmp = tempDir('jail-box-');
    const state = path.join(tmp.dir, 'state');
    const env = { PATH: SYSTEM_PATH, HOME: path.join(tmp.dir, 'home'), JAIL_STATE_DIR: state, XDG_CONFIG_HOME: path.join(tmp.dir, 'config') };
    fs.mkdirSync(env.HOME, { mode: 0o755 });
    let n = 0;
    fixture = {
      state,
      dir: tmp.dir,
      env,
      jail: (args, o = {}) => cli(args, { ...o, env: { ...env, ...o.env }, asUser: o.asUser ?? opts.owner }),
      workspace: (name, uid = opts.owner?.uid ?? 1000, gid = opts.owner?.gid ?? 1000) => {
        const ws = path.join(tmp!.dir, `ws-${name}-${n++}`);
        fs.mkdirSync(ws, { mode: 0o755 });
        fs.chownSync(ws, uid, gid);
        return ws;
      },
    };
  });
  afterEach(async () => {
    killSpawned();
    if (!fixture) return;
    const boxes = path.join(fixture.state, 'boxes');
    for (const name of fs.existsSync(boxes) ? fs.readdirSync(boxes) : []) {
      const r = await fixture.jail(['box', 'rm', '--force', name]);
      expect(r.code, r.stderr).toBe(0);
    }
    // Every init is gone with its box.
    expect(initsOf(fixture.state)).toEqual([]);
  });
  afterAll(() => {
    killSpawned();
    if (tmp) execFileSync('rm', ['-rf', tmp.dir]);
  });
  return () => fixture!;
}

/** The namespaces of a host pid, as inode links. */
export function namespacesOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ns of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts']) out[ns] = fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
  return out;
}

/** A running box's supervisor and init, host pids. */
export function runtimeOf(state: string, name: string): { supervisorPid: number; initPid: number } {
  const rt = JSON.parse(fs.readFileSync(path.join(state, 'boxes', name, 'run', 'state.json'), 'utf8')) as BoxRuntime;
  const initPid = initPidOf(rt);
  expect(initPid).not.toBeNull();
  return { supervisorPid: rt.supervisorPid, initPid: initPid! };
}

/**
 * `jail ARGS` run on a terminal of its own (util-linux script(1) makes one on the host), as a
 * user at a terminal runs it: cli()'s options with script as the program, and stdin open
 * unless input is given (script would pass its end on as a keystroke). Its output has the
 * terminals' \r\n line ends (one per terminal crossed) turned back into \n.
 */
export async function jailOnTerminal(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const line = [process.execPath, JAIL_BIN, ...args].map(quote).join(' ');
  const r = await cli(['-qec', line, '/dev/null'], { keepStdinOpen: true, ...opts, client: 'script' });
  return { ...r, stdout: r.stdout.replace(/\r+\n/g, '\n') };
}

/** A tiny root filesystem: dash, a few coreutils and the libraries they load, copied from the host. */
export function miniRootfs(dir: string, owner = { uid: 1000, gid: 1000 }): void {
  const programs = ['/bin/sh', '/bin/cat', '/bin/ls', '/bin/rm', '/bin/echo', '/bin/mkdir', '/bin/touch', '/bin/sleep', '/bin/id'];
  const files = new Set<string>();
  for (const p of programs) {
    const real = fs.realpathSync(p);
    files.add(real);
    for (const line of execFileSync('ldd', [real], { encoding: 'utf8' }).split('\n')) {
      const m = /(\/\S+) \(0x/.exec(line);
      if (m) files.add(m[1]);
    }
  }
  for (const f of files) {
    const to = path.join(dir, f);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(f, to);
    fs.chmodSync(to, 0o755);
  }
  // Merged /usr hosts: /bin -> usr/bin and /lib -> usr/lib, as on the host.
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) {
    if (fs.lstatSync(`/${l}`).isSymbolicLink() && !fs.existsSync(path.join(dir, l))) fs.symlinkSync(fs.readlinkSync(`/${l}`), path.join(dir, l));
  }
  for (const p of programs) if (!fs.existsSync(path.join(dir, p))) fs.copyFileSync(fs.realpathSync(p), path.join(dir, p));
  fs.mkdirSync(path.join(dir, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'etc', 'motd'), 'from the image\n');
  fs.writeFileSync(path.join(dir, 'etc', 'gone'), 'deleted by the box\n');
  fs.mkdirSync(path.join(dir, 'etc', 'conf.d', 'sub'), { recursive: true });
  for (const f of ['a', 'b', 'sub/c']) fs.writeFileSync(path.join(dir, 'etc', 'conf.d', f), `${f}\n`);
  // As a rootless import leaves it: the files are the box user's (as root, root's files would be read-only to it).
  execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, path.join(dir, 'etc')]);
}
