/**
 * nsjail's defaults, seen from inside a `--chroot /` jail
 * by the probe: identity, hostname, environment, capabilities, rlimits, nice, namespaces,
 * network, /proc and the read-only root.
 */
import * as fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { run } from '../../../src/index';
import { capMask, nsLinks, parseProbe, probePath, runProbe, type FlagRunResult, type Probe } from './helpers';

/** The caller's soft limits by probe name, in the probe's units (bytes, seconds, counts). */
function hostSoftLimits(): Record<string, string> {
  const rows: Record<string, string> = {
    'Max processes': 'nproc',
    'Max stack size': 'stack',
    'Max locked memory': 'memlock',
    'Max realtime priority': 'rtprio',
    'Max msgqueue size': 'msgqueue',
  };
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync('/proc/self/limits', 'utf8').split('\n')) {
    for (const [label, name] of Object.entries(rows)) {
      if (!line.startsWith(label + ' ')) continue;
      const soft = line.slice(label.length).trim().split(/\s+/)[0];
      out[name] = soft === 'unlimited' ? 'inf' : soft;
    }
  }
  return out;
}

describeAsRoot('defaults of a --chroot / jail (as root)', () => {
  let probe: Probe;
  let result: FlagRunResult;
  const host = nsLinks('self');

  beforeAll(async () => {
    probePath();
    ({ probe, result } = await runProbe(
      ['--chroot', '/'],
      ['ids', 'hostname', 'caps', 'rlimits', 'misc', 'ns', 'userns', 'env', 'mounts', 'net', 'pids', 'fds',
        'path:/', 'path:/sys', 'path:/dev', 'path:/dev/shm', 'path:/tmp', 'path:/proc/sys'],
    ));
  });

  it('exits 0 with outcome exited', () => {
    expect(result.outcome).toBe('exited');
    expect(result.exitCode).toBe(0);
  });

  it('hostname is NSJAIL', () => {
    expect(probe.hostname).toBe('NSJAIL');
  });

  it('the environment is empty (not even PATH)', () => {
    expect(probe.env).toEqual([]);
  });

  it('runs as uid/gid 0 (the caller) and warns that this is host root', () => {
    expect([probe.uid, probe.euid, probe.suid]).toEqual([0, 0, 0]);
    expect([probe.gid, probe.egid, probe.sgid]).toEqual([0, 0, 0]);
    expect(probe.userns.uidMap.trim().split(/\s+/)).toEqual(['0', '0', '1']);
    expect(probe.userns.gidMap.trim().split(/\s+/)).toEqual(['0', '0', '1']);
    const warnings = result.logs.filter((l) => l.startsWith('warn'));
    expect(warnings.some((l) => /uid 0/.test(l) && /root/.test(l))).toBe(true);
    expect(warnings.some((l) => /gid 0/.test(l) && /root/.test(l))).toBe(true);
  });

  it('has no capabilities at all, NoNewPrivs 1, no seccomp filter', () => {
    for (const set of ['inheritable', 'permitted', 'effective', 'bounding', 'ambient']) {
      expect(probe.caps[set], set).toBe('0000000000000000');
    }
    expect(probe.caps.noNewPrivs).toBe(1);
    expect(probe.caps.seccomp).toBe(0);
  });

  it("sets nsjail's rlimits soft = hard: as 4096 MiB, core 0, cpu 600, fsize 1 MiB, nofile 32", () => {
    const rl = probe.rlimits;
    const both = (v: string) => ({ cur: v, max: v });
    expect(rl.as).toEqual(both(String(4096 * 1024 * 1024)));
    expect(rl.core).toEqual(both('0'));
    expect(rl.cpu).toEqual(both('600'));
    expect(rl.fsize).toEqual(both(String(1024 * 1024)));
    expect(rl.nofile).toEqual(both('32'));
  });

  it("inherits the caller's soft nproc, stack, memlock, rtprio, msgqueue as soft = hard", () => {
    const soft = hostSoftLimits();
    for (const name of ['nproc', 'stack', 'memlock', 'rtprio', 'msgqueue']) {
      expect(soft[name], `host ${name}`).toBeDefined();
      expect(probe.rlimits[name], name).toEqual({ cur: soft[name], max: soft[name] });
    }
  });

  it('nice is 19', () => {
    expect(probe.nice).toBe(19);
  });

  it('is pid 1 of a new pid namespace, in its own session', () => {
    expect(probe.pid).toBe(1);
    expect(probe.ppid).toBe(0);
    expect(probe.sid).toBe(1);
    expect(probe.ns.pid).not.toBe(host.pid);
    expect(probe.pidList).toEqual([1]);
  });

  it('lives in new ipc, uts, cgroup, user, mnt, net namespaces; time is shared', () => {
    for (const ns of ['ipc', 'uts', 'cgroup', 'user', 'mnt', 'net', 'pid']) {
      expect(probe.ns[ns], ns).toMatch(/^\w+:\[\d+\]$/);
      expect(probe.ns[ns], ns).not.toBe(host[ns]);
    }
    expect(probe.ns.time).toBe(host.time);
  });

  it('sees only the loopback interface, and it is up', () => {
    expect(probe.net.map((i: Probe) => i.name)).toEqual(['lo']);
    expect(probe.net[0].loopback).toBe(true);
    expect(probe.net[0].up).toBe(true);
  });

  it('gets a fresh /proc: read-only, nosuid, nodev, noexec, showing only the jail', () => {
    const procs = (probe.mounts as Probe[]).filter((m) => m.mountpoint === '/proc');
    const top = procs[procs.length - 1];
    expect(top.fstype).toBe('proc');
    const opts = String(top.options).split(',');
    for (const o of ['ro', 'nosuid', 'nodev', 'noexec']) expect(opts, o).toContain(o);
    expect(probe.pidsVisible).toBe(1);
    expect(probe.paths['/proc/sys'].writable).toBe(false);
  });

  it('mounts the chroot read-only, submounts included (/sys, /dev, /dev/shm)', () => {
    const root = (probe.mounts as Probe[]).find((m) => m.mountpoint === '/');
    expect(String(root!.options).split(',')).toContain('ro');
    for (const p of ['/', '/sys', '/dev', '/dev/shm', '/tmp']) {
      const seen = probe.paths[p];
      expect(seen.exists, p).toBe(true);
      expect(seen.writeTested, p).toBe(true);
      expect(seen.writeErrno, p).toBe('EROFS');
    }
    for (const m of probe.mounts as Probe[]) {
      if (m.mountpoint === '/sys' || m.mountpoint === '/dev' || m.mountpoint === '/dev/shm') {
        expect(String(m.options).split(','), m.mountpoint).toContain('ro');
      }
    }
  });

  it('keeps only fds 0, 1, 2 open', () => {
    expect(probe.fds).toEqual([0, 1, 2]);
  });

  it('capability masks decode to zero (sanity of the probe output)', () => {
    expect(capMask(probe.caps.bounding)).toBe(0n);
  });
});

describeAsRoot('time namespace', () => {
  it('is off by default and on with --enable_clone_newtime', async () => {
    const host = nsLinks('self');
    const off = await runProbe(['--chroot', '/'], ['ns']);
    expect(off.probe.ns.time).toBe(host.time);
    const on = await runProbe(['--chroot', '/', '--enable_clone_newtime'], ['ns']);
    expect(on.result.exitCode).toBe(0);
    expect(on.probe.ns.time).toMatch(/^time:\[\d+\]$/);
    expect(on.probe.ns.time).not.toBe(host.time);
  });
});

describe('probe sanity', () => {
  it('the probe binary exists and is executable', () => {
    fs.accessSync(probePath(), fs.constants.X_OK);
  });
});

describeAsRoot('config-file defaults that differ from the command line (nsjail §9.1, §9.9, §9.15)', () => {
  beforeAll(() => void probePath());

  it('a config with hostname "sandbox" gets that hostname', async () => {
    const r = await run({ command: ['/bin/hostname'], config: 'mount { src: "/" dst: "/" is_bind: true }\nhostname: "sandbox"\n' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('sandbox\n');
  });

  it('mount_proc is off in a config: a recursive bind of / brings the host /proc in (read-only here)', async () => {
    const r = await run({ command: [probePath(), 'mounts', 'pids', 'path:/proc/1/comm'], config: { mount: [{ src: '/', dst: '/', is_bind: true }] } });
    expect(r.exitCode).toBe(0);
    const probe = parseProbe(r.stdout);
    const procs = (probe.mounts as Probe[]).filter((m) => m.mountpoint === '/proc');
    expect(procs).toHaveLength(1);
    expect(String(procs[0].options).split(',')).toContain('ro');
    // The host's procfs: more than the jail's own process is visible.
    expect(probe.pidsVisible).toBeGreaterThan(1);
  });

  it('exec_bin without a command runs its path and args; with `-- argv` the path stays and argv is replaced', async () => {
    const config = 'mount { src: "/" dst: "/" is_bind: true }\nexec_bin { path: "/bin/echo" arg: "from-config" }\n';
    const alone = await run({ config });
    expect(alone.stdout).toBe('from-config\n');
    const withArgv = await run({ config, command: ['/bin/printf', 'hi'] });
    expect(withArgv.exitCode).toBe(0);
    expect(withArgv.stdout).toBe('hi\n');
  });
});
