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
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeIf } from '../../helpers/env';
import { unprivilegedUser, rootlessReason } from '../unprivileged-user';
import { hasTool, hostProcesses, nsLinks, parseProbe, survivorsNamed, waitFor, type CliOptions } from './helpers';

const DAEMON = 'probe-daemon';

describeIf('rootless: jail run by an unprivileged user', rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-rootless');
  const asUser = (args: string[], opts: CliOptions = {}) => fixture().jail(args, opts);

  it('ids map only to the user itself; setgroups is denied', async () => {
    const r = await asUser(['-q', '--chroot', '/', '--', fixture().probe, 'ids', 'userns', 'caps']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect([p.uid, p.gid]).toEqual([fixture().user.uid, fixture().user.gid]);
    expect(p.userns.uidMap.trim().split(/\s+/)).toEqual([String(fixture().user.uid), String(fixture().user.uid), '1']);
    expect(p.userns.gidMap.trim().split(/\s+/)).toEqual([String(fixture().user.gid), String(fixture().user.gid), '1']);
    expect(p.userns.setgroups.trim()).toBe('deny');
    expect(p.groups).toEqual([]);
    // No host-root warning for an unprivileged user.
    expect(r.stderr).not.toMatch(/root\) in the host/);
  });

  it("the defaults are nsjail's: hostname, empty env, no caps, rlimits, nice, pid 1, new namespaces", async () => {
    const r = await asUser(['-q', '--chroot', '/', '--', fixture().probe, 'ids', 'hostname', 'env', 'caps', 'rlimits', 'misc', 'ns', 'net', 'mounts', 'path:/', 'path:/tmp']);
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
    const out = path.join(fixture().dir, 'out');
    fs.mkdirSync(out);
    fs.chownSync(out, fixture().user.uid, fixture().user.gid);
    const r = await asUser(['-q', '-R', `${path.dirname(fixture().probe)}:/probe`, '-B', `${out}:/out`, '-T', '/scratch', '--', '/probe/probe', 'mounts', 'write:/out/file:123', 'path:/scratch', 'path:/probe']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect(p.write.written).toBe(123);
    const st = fs.statSync(path.join(out, 'file'));
    expect(st.size).toBe(123);
    expect(st.uid).toBe(fixture().user.uid);
    expect(p.paths['/scratch'].writable).toBe(true);
    expect(p.paths['/probe'].writeErrno).toBe('EROFS');
  });

  it('-u 0 -g 0: root inside, still the user outside', async () => {
    const r = await asUser(['-q', '--chroot', '/', '-u', '0', '-g', '0', '--', fixture().probe, 'ids', 'userns']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect([p.uid, p.gid]).toEqual([0, 0]);
    expect(p.userns.uidMap.trim().split(/\s+/)).toEqual(['0', String(fixture().user.uid), '1']);
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
      const r = await asUser(['-q', '--chroot', '/', '-U', `0:${fixture().user.uid}:1`, '--', fixture().probe, 'ids']);
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/newuidmap/);
      throw new Error('newuidmap/newgidmap are not installed (Debian package uidmap): -U/-G cannot work');
    }
    expect(fixture().user.subuid).not.toBeNull();
    const [su] = fixture().user.subuid!;
    const [sg] = fixture().user.subgid!;
    const r = await asUser(['-q', '--chroot', '/', '-U', `0:${fixture().user.uid}:1`, '-U', `1:${su}:1000`, '-G', `0:${fixture().user.gid}:1`, '-G', `1:${sg}:1000`, '--', fixture().probe, 'ids', 'userns', 'syscall:setuid0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect([p.uid, p.gid]).toEqual([0, 0]);
    const lines = p.userns.uidMap.trim().split('\n').map((l: string) => l.trim().split(/\s+/));
    expect(lines).toEqual([['0', String(fixture().user.uid), '1'], ['1', String(su), '1000']]);
    const glines = p.userns.gidMap.trim().split('\n').map((l: string) => l.trim().split(/\s+/));
    expect(glines).toEqual([['0', String(fixture().user.gid), '1'], ['1', String(sg), '1000']]);
  });

  it('-t 1 kills a setsid + double-forked daemon: 137, nothing survives', async () => {
    let saw = false;
    const r = await asUser(['-q', '--chroot', '/', '-t', '1', '--', fixture().probe, 'none', 'daemonize:30', 'sleep:30'], {
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
    const r = await asUser(['-q', '--config', path.join(fixture().jailRoot, 'examples', 'interactive-shell.cfg')], { input: 'id -u; cat /proc/self/uid_map; exit 0\n' });
    expect(r.code).toBe(0);
    const out = r.stdout.split('\n');
    expect(out).toContain('1000');
    expect(out.some((l) => l.trim().split(/\s+/).join(' ') === `1000 ${fixture().user.uid} 1`)).toBe(true);
  });

  it('examples/static-binary.cfg with --execute_fd as the normal user', async () => {
    const r = await asUser(['-q', '--execute_fd', '--config', path.join(fixture().jailRoot, 'examples', 'static-binary.cfg'), '--', fixture().probe, 'ids', 'hostname']);
    expect(r.code).toBe(0);
    const p = parseProbe(r.stdout);
    expect(p.uid).toBe(65534);
    expect(p.hostname).toBe('static');
  });
});
