/**
 * Rootless mode: an unprivileged user created for the test runs `jail` (the CLI, through
 * setpriv). Its ids map only to itself with setgroups denied, the defaults are nsjail's, mounts
 * work, -U/-G go through newuidmap with its /etc/subuid range, the time limit still kills a
 * double-forked daemon, and -Me works.
 *
 * The user is created in beforeAll and removed in afterAll (with its processes, its scratch
 * directory and its /etc/subuid entries). If the repository is not readable by that user (e.g. a
 * checkout under /root), the CLI's runtime files and the probe are copied to a temp dir.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeIf } from '../../helpers/env';
import {
  assertBuilt,
  cli,
  hasTool,
  hostProcesses,
  killSpawned,
  nsLinks,
  parseProbe,
  probePath,
  REPO,
  SYSTEM_PATH,
  survivorsNamed,
  tempDir,
  waitFor,
  type CliOptions,
} from './helpers';
import { createTestUser, removeTestUser, testUserReason } from './test-users';

const USER = 'jail-it-rootless';
const DAEMON = 'probe-daemon';

interface TestUser {
  uid: number;
  gid: number;
  subuid: [number, number] | null;
  subgid: [number, number] | null;
}

function subRange(file: string, name: string): [number, number] | null {
  try {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(name + ':'));
    if (!line) return null;
    const [, start, count] = line.split(':');
    return [Number(start), Number(count)];
  } catch {
    return null;
  }
}

/** Can `user` read `file` (and traverse every directory above it)? */
function readableBy(user: TestUser, file: string): boolean {
  try {
    execFileSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'test', '-r', file], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

describeIf('rootless: jail run by an unprivileged user', testUserReason(), () => {
  let user: TestUser;
  let tmp: ReturnType<typeof tempDir>;
  /** Where the user runs bin/jail from (the repo, or a copy of its runtime files). */
  let jailRoot: string;
  /** The probe as the user can reach it. */
  let probe: string;
  let probeDirPath: string;

  const asUser = (args: string[], opts: CliOptions = {}) =>
    cli(args, { ...opts, asUser: { uid: user.uid, gid: user.gid }, cwd: opts.cwd ?? tmp.dir, env: opts.env ?? { PATH: SYSTEM_PATH, HOME: '/' }, jailBin: path.join(jailRoot, 'bin', 'jail') });

  beforeAll(() => {
    assertBuilt();
    probePath();
    const { uid, gid } = createTestUser(USER);
    if (subRange('/etc/subuid', USER) === null || subRange('/etc/subgid', USER) === null) {
      // useradd adds subordinate ranges only when login.defs asks for them; give the user one.
      const range = '1500000000-1500065535';
      execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, USER], { timeout: 30_000 });
    }
    user = { uid, gid, subuid: subRange('/etc/subuid', USER), subgid: subRange('/etc/subgid', USER) };
    tmp = tempDir('jail-it-rootless-');

    jailRoot = REPO;
    if (!readableBy(user, path.join(REPO, 'dist', 'jail-cli.js')) && !readableBy(user, path.join(REPO, 'dist', 'cli', 'main.js'))) {
      // Copy what `node bin/jail` needs at run time.
      jailRoot = path.join(tmp.dir, 'jail');
      for (const part of ['bin', 'dist', 'policies', 'examples', 'package.json']) {
        fs.cpSync(path.join(REPO, part), path.join(jailRoot, part), { recursive: true });
      }
      fs.mkdirSync(path.join(jailRoot, 'build', 'Release'), { recursive: true });
      for (const f of fs.readdirSync(path.join(REPO, 'build', 'Release'))) {
        const src = path.join(REPO, 'build', 'Release', f);
        if (fs.statSync(src).isFile()) fs.copyFileSync(src, path.join(jailRoot, 'build', 'Release', f));
      }
      // The bundled CLI needs no node_modules; the unbundled fallback does.
      if (!fs.existsSync(path.join(REPO, 'dist', 'jail-cli.js'))) {
        fs.cpSync(path.join(REPO, 'node_modules'), path.join(jailRoot, 'node_modules'), { recursive: true, dereference: true });
      }
      execFileSync('chmod', ['-R', 'a+rX', jailRoot]);
    }
    probe = probePath();
    if (!readableBy(user, probe)) {
      const dir = path.join(tmp.dir, 'probe');
      fs.mkdirSync(dir, { mode: 0o755 });
      fs.copyFileSync(probePath(), path.join(dir, 'probe'));
      fs.chmodSync(path.join(dir, 'probe'), 0o755);
      probe = path.join(dir, 'probe');
    }
    probeDirPath = path.dirname(probe);
  });

  afterEach(() => killSpawned());

  afterAll(() => {
    killSpawned();
    removeTestUser(USER);
    tmp?.remove();
    // The user, its group and its subordinate id ranges are gone.
    expect(fs.readFileSync('/etc/passwd', 'utf8')).not.toContain(`${USER}:`);
    expect(subRange('/etc/subuid', USER)).toBeNull();
  });

  it('ids map only to the user itself; setgroups is denied', async () => {
    const r = await asUser(['-q', '--chroot', '/', '--', probe, 'ids', 'userns', 'caps']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect([p.uid, p.gid]).toEqual([user.uid, user.gid]);
    expect(p.userns.uidMap.trim().split(/\s+/)).toEqual([String(user.uid), String(user.uid), '1']);
    expect(p.userns.gidMap.trim().split(/\s+/)).toEqual([String(user.gid), String(user.gid), '1']);
    expect(p.userns.setgroups.trim()).toBe('deny');
    expect(p.groups).toEqual([]);
    // No host-root warning for an unprivileged user.
    expect(r.stderr).not.toMatch(/root\) in the host/);
  });

  it("the defaults are nsjail's: hostname, empty env, no caps, rlimits, nice, pid 1, new namespaces", async () => {
    const r = await asUser(['-q', '--chroot', '/', '--', probe, 'ids', 'hostname', 'env', 'caps', 'rlimits', 'misc', 'ns', 'net', 'mounts', 'path:/', 'path:/tmp']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    const host = nsLinks('self');
    expect(p.hostname).toBe('NSJAIL');
    expect(p.env).toEqual([]);
    expect(p.caps.effective).toBe('0000000000000000');
    expect(p.caps.bounding).toBe('0000000000000000');
    expect(p.caps.noNewPrivs).toBe(1);
    expect(p.rlimits.as).toEqual({ cur: String(4096 * 1024 * 1024), max: String(4096 * 1024 * 1024) });
    expect(p.rlimits.fsize).toEqual({ cur: String(1024 * 1024), max: String(1024 * 1024) });
    expect(p.rlimits.nofile).toEqual({ cur: '32', max: '32' });
    expect(p.rlimits.cpu).toEqual({ cur: '600', max: '600' });
    expect(p.nice).toBe(19);
    expect(p.pid).toBe(1);
    for (const ns of ['ipc', 'uts', 'cgroup', 'user', 'mnt', 'net', 'pid']) expect(p.ns[ns], ns).not.toBe(host[ns]);
    expect(p.ns.time).toBe(host.time);
    expect((p.net as Array<{ name: string }>).map((i) => i.name)).toEqual(['lo']);
    expect(p.paths['/'].writeErrno).toBe('EROFS');
    expect(p.paths['/tmp'].writeErrno).toBe('EROFS');
  });

  it('mounts work: read-only binds, a writable bind whose files belong to the user, tmpfs', async () => {
    const out = path.join(tmp.dir, 'out');
    fs.mkdirSync(out);
    fs.chownSync(out, user.uid, user.gid);
    const r = await asUser(['-q', '-R', `${probeDirPath}:/probe`, '-B', `${out}:/out`, '-T', '/scratch', '--', '/probe/probe', 'mounts', 'write:/out/file:123', 'path:/scratch', 'path:/probe']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect(p.write.written).toBe(123);
    const st = fs.statSync(path.join(out, 'file'));
    expect(st.size).toBe(123);
    expect(st.uid).toBe(user.uid);
    expect(p.paths['/scratch'].writable).toBe(true);
    expect(p.paths['/probe'].writeErrno).toBe('EROFS');
  });

  it('-u 0 -g 0: root inside, still the user outside', async () => {
    const r = await asUser(['-q', '--chroot', '/', '-u', '0', '-g', '0', '--', probe, 'ids', 'userns']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect([p.uid, p.gid]).toEqual([0, 0]);
    expect(p.userns.uidMap.trim().split(/\s+/)).toEqual(['0', String(user.uid), '1']);
  });

  it('mapping another host id is refused before launch with a hint about -U/-G', async () => {
    const r = await asUser(['--chroot', '/', '-u', '0:0', '--', '/bin/echo', 'launched']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/only its own id/);
    expect(r.stderr).toMatch(/-U\/-G|newuidmap|subuid/);
  });

  it('-U/-G map a subordinate range through newuidmap/newgidmap', async () => {
    if (!hasTool('newuidmap') || !hasTool('newgidmap')) {
      // Without the uidmap package the helper is missing: a setup failure naming it.
      const r = await asUser(['-q', '--chroot', '/', '-U', `0:${user.uid}:1`, '--', probe, 'ids']);
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/newuidmap/);
      throw new Error('newuidmap/newgidmap are not installed (Debian package uidmap): -U/-G cannot work');
    }
    expect(user.subuid).not.toBeNull();
    const [su] = user.subuid!;
    const [sg] = user.subgid!;
    const r = await asUser(['-q', '--chroot', '/', '-U', `0:${user.uid}:1`, '-U', `1:${su}:1000`, '-G', `0:${user.gid}:1`, '-G', `1:${sg}:1000`, '--', probe, 'ids', 'userns', 'syscall:setuid0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect([p.uid, p.gid]).toEqual([0, 0]);
    const lines = p.userns.uidMap.trim().split('\n').map((l: string) => l.trim().split(/\s+/));
    expect(lines).toEqual([['0', String(user.uid), '1'], ['1', String(su), '1000']]);
    const glines = p.userns.gidMap.trim().split('\n').map((l: string) => l.trim().split(/\s+/));
    expect(glines).toEqual([['0', String(user.gid), '1'], ['1', String(sg), '1000']]);
  });

  it('-t 1 kills a setsid + double-forked daemon: 137, nothing survives', async () => {
    let saw = false;
    const r = await asUser(['-q', '--chroot', '/', '-t', '1', '--', probe, 'none', 'daemonize:30', 'sleep:30'], {
      timeoutMs: 20_000,
      onSpawn: () => {
        void waitFor(() => hostProcesses().some((p) => p.comm === DAEMON && p.state !== 'Z'), 8000, 'the daemon').then(
          () => (saw = true),
          () => {},
        );
      },
    });
    expect(r.code).toBe(137);
    expect(saw).toBe(true);
    expect(await survivorsNamed(DAEMON)).toEqual([]);
  });

  it('seccomp works unprivileged: KILL { newuname } exits 159', async () => {
    const r = await asUser(['-q', '--report', 'json', '--chroot', '/', '--seccomp_string', 'KILL { newuname } DEFAULT ALLOW', '--', '/bin/uname']);
    expect(r.code).toBe(159);
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!).outcome).toBe('seccomp-violation');
  });

  it('-Me works as an ordinary user', async () => {
    const r = await asUser(['-Me', '--chroot', '/', '--', '/bin/echo', 'ABC']);
    expect(r.stdout).toBe('ABC\n');
    expect(r.code).toBe(0);
  });

  it('examples/interactive-shell.cfg as the normal user: uid 1000 inside, the user outside', async () => {
    const r = await asUser(['-q', '--config', path.join(jailRoot, 'examples', 'interactive-shell.cfg')], { input: 'id -u; cat /proc/self/uid_map; exit 0\n' });
    expect(r.code).toBe(0);
    const out = r.stdout.split('\n');
    expect(out).toContain('1000');
    expect(out.some((l) => l.trim().split(/\s+/).join(' ') === `1000 ${user.uid} 1`)).toBe(true);
  });

  it('examples/static-binary.cfg with --execute_fd as the normal user', async () => {
    const r = await asUser(['-q', '--execute_fd', '--config', path.join(jailRoot, 'examples', 'static-binary.cfg'), '--', probe, 'ids', 'hostname']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect(p.uid).toBe(65534);
    expect(p.hostname).toBe('static');
  });
});
