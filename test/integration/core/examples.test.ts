/**
 * Every example config runs a real jail (issue 3, "Integration tests"), and the probe confirms
 * its settings: python-playground (.cfg and .json), static-binary, interactive-shell,
 * pipeline-step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { planJail, run } from '../../../src/index';
import { assertBuilt, cli, killSpawned, parseFlags, parseProbe, probeDir, probePath, REPO, runFlags, SYSTEM_PATH, type Probe } from './helpers';

const EX = (name: string) => path.join(REPO, 'examples', name);
const PROBE_BIND = () => ['-R', `${probeDir()}:/probe`];
const CALLER_ENV = { PATH: SYSTEM_PATH, PWD: REPO, HF_TOKEN: 'hf-secret-for-test', TERM: 'xterm-test', LANG: 'C.UTF-8' };

const mountAt = (probe: Probe, mp: string): Probe | undefined => {
  const all = ((probe.mounts ?? []) as Probe[]).filter((m) => m.mountpoint === mp);
  return all[all.length - 1];
};
const optsOf = (m: Probe | undefined): string[] => String(m?.options ?? '').split(',');

/** null when the config can run here; otherwise the "not supported yet" message. */
function unsupported(file: string): string | null {
  try {
    const { config, command } = parseFlags(['--config', file, '--', '/bin/true'], CALLER_ENV);
    planJail({ config, command, env: CALLER_ENV });
    return null;
  } catch (e) {
    const msg = (e as Error).message;
    if (/not supported yet/.test(msg)) return msg;
    throw e;
  }
}

for (const file of ['python-playground.cfg', 'python-playground.json']) {
  describeAsRoot(`examples/${file}`, () => {
    let notYet: string | null;
    /** Flags that make the example runnable here: the cgroup limit is lifted while cgroups are not supported. */
    let extra: string[];

    beforeAll(() => {
      assertBuilt();
      probePath();
      notYet = unsupported(EX(file));
      extra = notYet ? ['--cgroup_mem_max', '0'] : [];
    });
    afterEach(() => killSpawned());

    it('loads; a feature that is not built yet (cgroups) is a clear error, not silently ignored', async () => {
      if (notYet === null) {
        const r = await cli(['check', '--config', EX(file)], { env: CALLER_ENV });
        expect(r.code).toBe(0);
        return;
      }
      // Note for the report: cgroups are not supported yet, so the example cannot run unchanged.
      expect(notYet).toMatch(/cgroup_mem_max/);
      const r = await cli(['--config', EX(file), '--', 'python3', 'examples/hello.py'], { env: CALLER_ENV });
      expect(r.code).toBe(255);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/cgroup_mem_max.*not supported yet|not supported yet.*cgroup_mem_max/s);
    });

    it('`jail --config <example> -- python3 examples/hello.py` runs hello.py as 65534 with /data and /tmp writable, /usr read-only, HF_TOKEN passed', async () => {
      const r = await cli(['--config', EX(file), ...extra, '--', 'python3', 'examples/hello.py'], { env: CALLER_ENV });
      expect(r.code).toBe(0);
      const out = r.stdout.split('\n');
      expect(out[0]).toBe('hello from uid 65534 gid 65534 on playground');
      expect(out[1]).toMatch(/^python 3\.\d+\.\d+, cwd \/data, HOME=\/data$/);
      expect(out).toContain('/data: writable');
      expect(out).toContain('/tmp: writable');
      expect(out).toContain('/usr: read-only');
      const envLine = out.find((l) => l.startsWith('environment: '))!;
      expect(envLine).toContain("'HF_TOKEN'");
      expect(envLine).not.toContain("'TERM'");
    });

    it('the probe confirms: uid/gid 65534 on the host too, no caps, private /tmp, read-only system, limits, lo and the internet link', async () => {
      const marker = `jail-it-private-${process.pid}-${Date.now()}`;
      let hostUid = -1;
      const { config } = parseFlags(['--config', EX(file), ...extra, ...PROBE_BIND(), '--', '/probe/probe'], CALLER_ENV);
      const r = await run({
        config,
        command: ['/probe/probe', 'ids', 'hostname', 'cwd', 'caps', 'env', 'rlimits', 'mounts', 'net', 'pids', `write:/tmp/${marker}:100`,
          'path:/tmp', 'path:/data', 'path:/usr', 'path:/usr/bin/python3', 'path:/etc/passwd', 'path:/home', 'sleep:0.2'],
        env: CALLER_ENV,
        onStart: (j) => {
          const line = fs.readFileSync(`/proc/${j.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
          hostUid = Number(line.split(/\s+/)[1]);
        },
      });
      expect(r.exitCode).toBe(0);
      const probe = parseProbe(r.stdout);
      expect([probe.uid, probe.gid]).toEqual([65534, 65534]);
      expect(hostUid).toBe(65534);
      expect(probe.hostname).toBe('playground');
      expect(probe.cwd).toBe('/data');
      expect(probe.caps.effective).toBe('0000000000000000');
      expect(probe.caps.bounding).toBe('0000000000000000');
      expect(probe.env).toContain('HF_TOKEN=hf-secret-for-test');
      expect(probe.env).toContain('HOME=/data');
      expect(probe.env.some((e: string) => e.startsWith('TERM='))).toBe(false);
      // /tmp: a private tmpfs, writable, and the file is not on the host.
      expect(probe.write.written).toBe(100);
      expect(probe.paths['/tmp'].writable).toBe(true);
      expect(mountAt(probe, '/tmp')!.fstype).toBe('tmpfs');
      expect(optsOf(mountAt(probe, '/tmp'))).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev', 'size=65536k']));
      expect(fs.existsSync(path.join('/tmp', marker))).toBe(false);
      expect(probe.paths['/data'].writable).toBe(true);
      // The system is there, read-only; the rest of the host is not.
      expect(probe.paths['/usr/bin/python3'].exists).toBe(true);
      expect(probe.paths['/usr'].writeErrno).toBe('EROFS');
      expect(probe.paths['/etc/passwd'].exists).toBe(false);
      expect(probe.paths['/home'].exists).toBe(false);
      expect(probe.rlimits.fsize).toEqual({ cur: String(8192 * 1024 * 1024), max: String(8192 * 1024 * 1024) });
      expect(probe.rlimits.nofile).toEqual({ cur: '256', max: '256' });
      expect(probe.rlimits.cpu).toEqual({ cur: '30', max: '30' });
      expect(probe.rlimits.as).toEqual({ cur: 'inf', max: 'inf' });
      // net "internet": loopback and pasta's link (what it may reach is the net suites' job).
      expect((probe.net as Probe[]).map((i) => i.name)).toEqual(['lo', 'eth0']);
      expect(probe.pidsVisible).toBe(1);
    });

    it('the same config through the library by path: run({ config: <file> })', async () => {
      if (notYet) {
        await expect(run({ config: EX(file), command: ['/usr/bin/python3', '-c', 'print(1)'], env: CALLER_ENV })).rejects.toThrow(/not supported yet/);
        return;
      }
      const r = await run({ config: EX(file), command: ['/usr/bin/python3', '-c', 'import os; print(os.getuid(), os.getcwd())'], env: CALLER_ENV });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('65534 /data\n');
    });

    it('the time limit of the example applies (30 s); with cgroups the 1 GiB memory cap is planned and the report has cgroup accounting', async () => {
      const { config, command } = parseFlags(['--config', EX(file), ...extra, '--', '/bin/true'], CALLER_ENV);
      expect(config.config.timeLimit).toBe(30);
      if (notYet) return;
      // (Hitting the cap is the cgroup suite's job; allocating a GiB is too slow for this one.)
      expect(JSON.stringify(planJail({ config, command, env: CALLER_ENV }).plan.cgroup)).toContain('1073741824');
      const r = await runFlags(['--config', EX(file), ...PROBE_BIND()], ['/probe/probe', 'none', 'alloc:64'], { env: CALLER_ENV });
      expect(r.exitCode).toBe(0);
      expect(parseProbe(r.stdout).alloc.ok).toBe(true);
      expect(r.memoryPeakBytes).toBeGreaterThan(64 * 1024 * 1024);
    });
  });
}

describeAsRoot('examples/static-binary.cfg', () => {
  beforeAll(() => probePath());

  it('--execute_fd runs the static probe in a jail with nothing of the host', async () => {
    const r = await runFlags(['--execute_fd', '--config', EX('static-binary.cfg')], [probePath(), 'ids', 'hostname', 'cwd', 'rlimits', 'caps', `path:${probePath()}`, 'path:/usr', 'path:/proc', 'path:/tmp', 'path:/dev/null', 'write:/tmp/x:1000']);
    expect(r.exitCode).toBe(0);
    const probe = parseProbe(r.stdout);
    expect([probe.uid, probe.gid]).toEqual([65534, 65534]);
    expect(probe.hostname).toBe('static');
    expect(probe.cwd).toBe('/tmp');
    expect(probe.procMounted).toBe(false);
    for (const p of [probePath(), '/usr', '/proc']) expect(probe.paths[p].exists, p).toBe(false);
    expect(probe.paths['/dev/null'].writable).toBe(true);
    expect(probe.write.written).toBe(1000);
    const MiB = 1024 * 1024;
    expect(probe.rlimits.as).toEqual({ cur: String(512 * MiB), max: String(512 * MiB) });
    expect(probe.rlimits.fsize).toEqual({ cur: String(16 * MiB), max: String(16 * MiB) });
    expect(probe.rlimits.nofile).toEqual({ cur: '16', max: '16' });
    expect(probe.rlimits.nproc).toEqual({ cur: '16', max: '16' });
    expect(probe.rlimits.cpu).toEqual({ cur: '10', max: '10' });
    expect(probe.caps.effective).toBe('0000000000000000');
  });

  it('/tmp is a noexec, nosuid, nodev tmpfs (seen with a /proc added to look at the mounts)', async () => {
    const m = await runFlags(['--execute_fd', '--config', EX('static-binary.cfg'), '--proc_path', '/proc'], [probePath(), 'mounts']);
    const tmp = mountAt(parseProbe(m.stdout), '/tmp')!;
    expect(optsOf(tmp)).toEqual(expect.arrayContaining(['noexec', 'nosuid', 'nodev']));
  });

  it('without --execute_fd the binary is not in the jail: execve ENOENT', async () => {
    const r = await runFlags(['--config', EX('static-binary.cfg')], [probePath(), 'ids']);
    expect(r.outcome).toBe('setup-failed');
    expect(r.error?.stage).toBe('execve');
    expect(r.error?.errno).toBe('ENOENT');
  });
});

describeAsRoot('examples/interactive-shell.cfg', () => {
  beforeAll(() => {
    assertBuilt();
    probePath();
  });
  afterEach(() => killSpawned());

  it('runs bash from exec_bin: tmpfs home, hostname sandbox, uid 1000 inside', async () => {
    const r = await cli(['-q', '--config', EX('interactive-shell.cfg')], {
      env: CALLER_ENV,
      input: 'echo "home=$HOME"; id -u; hostname; touch ~/f && echo home-writable; touch /usr/x 2>/dev/null || echo usr-read-only; exit 0\n',
    });
    expect(r.code).toBe(0);
    const out = r.stdout.split('\n');
    expect(out).toContain('home=/home/user');
    expect(out).toContain('1000');
    expect(out).toContain('sandbox');
    expect(out).toContain('home-writable');
    expect(out).toContain('usr-read-only');
  });

  it('the probe confirms: no setsid, no network, passed TERM/LANG, limits', async () => {
    const r = await runFlags(['--config', EX('interactive-shell.cfg'), ...PROBE_BIND(), '-x', '/probe/probe'], ['/probe/probe', 'ids', 'hostname', 'cwd', 'env', 'net', 'rlimits', 'mounts', 'path:/home/user'], { env: CALLER_ENV });
    expect(r.exitCode).toBe(0);
    const probe = parseProbe(r.stdout);
    expect(probe.uid).toBe(1000);
    expect(probe.sid).not.toBe(probe.pid);
    expect(probe.cwd).toBe('/home/user');
    expect(probe.paths['/home/user'].writable).toBe(true);
    expect(mountAt(probe, '/home/user')!.fstype).toBe('tmpfs');
    expect(probe.env).toEqual(expect.arrayContaining(['HOME=/home/user', 'TERM=xterm-test', 'LANG=C.UTF-8']));
    expect(probe.env).not.toContain('HF_TOKEN=hf-secret-for-test');
    expect((probe.net as Probe[]).map((i) => i.name)).toEqual(['lo']);
    expect(probe.rlimits.nofile).toEqual({ cur: '1024', max: '1024' });
    expect(probe.rlimits.as).toEqual({ cur: 'inf', max: 'inf' });
  });
});

describeAsRoot('examples/pipeline-step.cfg', () => {
  beforeAll(() => {
    assertBuilt();
    probePath();
  });
  afterEach(() => killSpawned());

  it('stdin in, stdout out: `sort -u` as a pipeline step; only warnings on stderr', async () => {
    const r = await cli(['--config', EX('pipeline-step.cfg'), '--', '/usr/bin/sort', '-u'], { env: CALLER_ENV, input: 'pear\napple\npear\nfig\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('apple\nfig\npear\n');
    for (const l of r.stderr.split('\n').filter(Boolean)) expect(l).toMatch(/^\[[WEF]\]/);
  });

  it('python3 found through the config PATH; a large output to a file is not cut by RLIMIT_FSIZE', async () => {
    const r = await cli(['--config', EX('pipeline-step.cfg'), '--', 'python3', '-c', 'import sys; sys.stdout.write(sys.stdin.read().upper() * 3)'], {
      env: CALLER_ENV,
      input: 'abc\n',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ABC\nABC\nABC\n');
  });

  it('the probe confirms: uid 65534, read-only system, only /tmp writable, no network', async () => {
    const r = await runFlags(['--config', EX('pipeline-step.cfg'), ...PROBE_BIND(), '--proc_path', '/proc'], ['/probe/probe', 'ids', 'net', 'mounts', 'path:/', 'path:/usr', 'path:/tmp', 'path:/etc/passwd'], { env: CALLER_ENV });
    expect(r.exitCode).toBe(0);
    const probe = parseProbe(r.stdout);
    expect([probe.uid, probe.gid]).toEqual([65534, 65534]);
    expect(probe.paths['/'].writeErrno).toBe('EROFS');
    expect(probe.paths['/usr'].writeErrno).toBe('EROFS');
    expect(probe.paths['/tmp'].writable).toBe(true);
    expect(optsOf(mountAt(probe, '/tmp'))).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
    expect(probe.paths['/etc/passwd'].exists).toBe(false);
    expect((probe.net as Probe[]).map((i) => i.name)).toEqual(['lo']);
  });
});
