/**
 * Identity and privilege flags, checked from inside by the probe and, where it matters, from the
 * host through /proc/PID/status: -u/-g (plain, inside:outside:count, names), -U/-G, -H, -E, -e,
 * --keep_caps, --cap, --disable_no_new_privs.
 */
import * as fs from 'node:fs';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { capMask, hasTool, killSpawned, probePath, runFlags, runProbe, SYSTEM_PATH, type Probe } from './helpers';

const CHROOT = ['--chroot', '/'];

/** "Uid:\treal\teffective\tsaved\tfs" of a host process, as numbers. */
function hostIds(pid: number, key: 'Uid' | 'Gid'): number[] {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(key + ':'));
  return line!.split(/\s+/).slice(1, 5).map(Number);
}

/** Runs the probe (sleeping a little so the host can look at it) and reads its host uid/gid at start. */
async function probeWithHostIds(flags: string[], args: string[]) {
  let host: { uid: number[]; gid: number[] } | undefined;
  const out = await runProbe([...CHROOT, ...flags], [...args, 'sleep:0.3'], {
    onStart: (jail) => {
      host = { uid: hostIds(jail.pid, 'Uid'), gid: hostIds(jail.pid, 'Gid') };
    },
  });
  return { ...out, host: host! };
}

const mapLines = (text: string): string[][] => text.trim().split('\n').map((l) => l.trim().split(/\s+/));

const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
const ALL_CAPS = (1n << BigInt(lastCap + 1)) - 1n;
const CAP_NET_RAW = 13;

describeAsRoot('identity flags (-u, -g, -U, -G)', () => {
  beforeAll(() => void probePath());
  afterEach(() => killSpawned());

  it('-u 99999 -g 99999 runs as 99999 inside, host root outside, and warns', async () => {
    const { probe, result, host } = await probeWithHostIds(['-u', '99999', '-g', '99999'], ['ids', 'userns']);
    expect([probe.uid, probe.euid, probe.suid]).toEqual([99999, 99999, 99999]);
    expect([probe.gid, probe.egid, probe.sgid]).toEqual([99999, 99999, 99999]);
    expect(mapLines(probe.userns.uidMap)).toEqual([['99999', '0', '1']]);
    expect(mapLines(probe.userns.gidMap)).toEqual([['99999', '0', '1']]);
    expect(host.uid).toEqual([0, 0, 0, 0]);
    expect(result.logs.some((l) => l.startsWith('warn') && /uid 99999/.test(l) && /root/.test(l))).toBe(true);
  });

  it('-u inside:outside:count and -g inside:outside:count write exactly that map', async () => {
    const { probe, host, result } = await probeWithHostIds(['-u', '1000:2000:10', '-g', '100:200:5'], ['ids', 'userns']);
    expect(probe.uid).toBe(1000);
    expect(probe.gid).toBe(100);
    expect(mapLines(probe.userns.uidMap)).toEqual([['1000', '2000', '10']]);
    expect(mapLines(probe.userns.gidMap)).toEqual([['100', '200', '5']]);
    expect(host.uid).toEqual([2000, 2000, 2000, 2000]);
    expect(host.gid).toEqual([200, 200, 200, 200]);
    // Not host root: no warning.
    expect(result.logs.filter((l) => /root/.test(l) && l.startsWith('warn'))).toEqual([]);
  });

  it('repeated -u/-g give several map lines; the first inside id is the one the program runs as', async () => {
    const { probe } = await probeWithHostIds(['-u', '5:3000', '-u', '0:3001', '-g', '7:4000', '-g', '0:4001'], ['ids', 'userns']);
    expect(probe.uid).toBe(5);
    expect(probe.gid).toBe(7);
    expect(mapLines(probe.userns.uidMap)).toEqual([['5', '3000', '1'], ['0', '3001', '1']]);
    expect(mapLines(probe.userns.gidMap)).toEqual([['7', '4000', '1'], ['0', '4001', '1']]);
  });

  it('-u nobody -g nogroup resolve names to 65534; 65534:65534 is host uid 65534', async () => {
    const names = await probeWithHostIds(['-u', 'nobody', '-g', 'nogroup'], ['ids']);
    expect(names.probe.uid).toBe(65534);
    expect(names.probe.gid).toBe(65534);
    const mapped = await probeWithHostIds(['-u', '65534:65534', '-g', '65534:65534'], ['ids']);
    expect(mapped.probe.uid).toBe(65534);
    expect(mapped.host.uid).toEqual([65534, 65534, 65534, 65534]);
    expect(mapped.host.gid).toEqual([65534, 65534, 65534, 65534]);
  });

  it('an unknown user name is a flag error naming it; nothing runs', async () => {
    await expect(runProbe([...CHROOT, '-u', 'no-such-user-xyz'], ['ids'])).rejects.toThrow(/no-such-user-xyz/);
  });

  it('-U/-G go through newuidmap/newgidmap: a range root does not own in /etc/subuid is refused at setup', async () => {
    const result = await runFlags([...CHROOT, '-U', '0:1234567:1', '-G', '0:1234567:1'], [probePath(), 'ids']);
    expect(result.stdout ?? '').toBe('');
    if (!hasTool('newuidmap')) {
      // Without the uidmap package the helper itself is missing.
      expect(result.error?.errno).toBe('ENOENT');
    }
    expect(result.outcome).toBe('setup-failed');
    expect(result.exitCode).toBe(255);
    expect(result.error?.stage).toBe('idmap');
    expect(result.error?.message).toMatch(/new[ug]idmap/);
  });
});

describeAsRoot('hostname and environment flags (-H, -E, -e)', () => {
  beforeAll(() => void probePath());

  it('-H sets the hostname', async () => {
    const { probe } = await runProbe([...CHROOT, '-H', 'jail-test-host'], ['hostname']);
    expect(probe.hostname).toBe('jail-test-host');
  });

  it('-E VAR=value sets, -E VAR copies the caller value, an unset VAR is skipped with a debug line (no warning)', async () => {
    const env = { PATH: SYSTEM_PATH, JAIL_IT_FROM_HOST: 'host value with spaces' };
    const { probe, result } = await runProbe(
      [...CHROOT, '-E', 'JAIL_IT_SET=abc=def', '-E', 'JAIL_IT_FROM_HOST', '-E', 'JAIL_IT_UNSET_XYZ'],
      ['env'],
      { env, logLevel: 'debug' },
    );
    expect([...probe.env].sort()).toEqual(['JAIL_IT_FROM_HOST=host value with spaces', 'JAIL_IT_SET=abc=def']);
    expect(result.logs.filter((l) => l.includes('JAIL_IT_UNSET_XYZ'))).toEqual(["debug not set in the caller's environment, so not passed: JAIL_IT_UNSET_XYZ"]);
  });

  it("-e keeps the caller's whole environment; -E overrides a kept value", async () => {
    const env = { PATH: SYSTEM_PATH, JAIL_IT_KEEP: 'kept', JAIL_IT_OVER: 'old' };
    const { probe } = await runProbe([...CHROOT, '-e', '-E', 'JAIL_IT_OVER=new'], ['env'], { env });
    expect(probe.env).toContain('JAIL_IT_KEEP=kept');
    expect(probe.env).toContain(`PATH=${SYSTEM_PATH}`);
    expect(probe.env).toContain('JAIL_IT_OVER=new');
    expect(probe.env).not.toContain('JAIL_IT_OVER=old');
  });
});

describeAsRoot('capability flags (--keep_caps, --cap, --disable_no_new_privs)', () => {
  beforeAll(() => void probePath());

  it('--keep_caps keeps every capability (in the jail user namespace)', async () => {
    const { probe } = await runProbe([...CHROOT, '--keep_caps'], ['caps', 'syscall:socket_raw', 'syscall:sethostname']);
    for (const set of ['permitted', 'effective', 'bounding', 'ambient', 'inheritable']) {
      expect(capMask(probe.caps[set]), set).toBe(ALL_CAPS);
    }
    expect(probe.syscalls.socket_raw.ok).toBe(true);
    expect(probe.syscalls.sethostname.ok).toBe(true);
  });

  it('--cap CAP_NET_RAW as inner root leaves only that bit in CapBnd and CapEff', async () => {
    const { probe } = await runProbe([...CHROOT, '--cap', 'CAP_NET_RAW'], ['caps', 'syscall:socket_raw', 'syscall:sethostname', 'syscall:chroot']);
    const only = 1n << BigInt(CAP_NET_RAW);
    expect(capMask(probe.caps.bounding)).toBe(only);
    expect(capMask(probe.caps.effective)).toBe(only);
    expect(capMask(probe.caps.permitted)).toBe(only);
    expect(probe.caps.effectiveNames).toEqual(['cap_net_raw']);
    expect(probe.syscalls.socket_raw.ok).toBe(true);
    expect(probe.syscalls.sethostname.errno).toBe('EPERM');
    expect(probe.syscalls.chroot.errno).toBe('EPERM');
  });

  it('--cap as a non-root inner user is kept through the ambient set', async () => {
    const { probe } = await runProbe([...CHROOT, '-u', '1000', '--cap', 'CAP_NET_RAW'], ['ids', 'caps', 'syscall:socket_raw']);
    expect(probe.uid).toBe(1000);
    expect(capMask(probe.caps.effective)).toBe(1n << BigInt(CAP_NET_RAW));
    expect(capMask(probe.caps.ambient)).toBe(1n << BigInt(CAP_NET_RAW));
    expect(probe.syscalls.socket_raw.ok).toBe(true);
  });

  it('without --cap, raw sockets are refused (EPERM)', async () => {
    const { probe } = await runProbe(CHROOT, ['caps', 'syscall:socket_raw']);
    expect(probe.syscalls.socket_raw.errno).toBe('EPERM');
  });

  it('an unknown capability name is an error; nothing runs', async () => {
    await expect(runProbe([...CHROOT, '--cap', 'CAP_NO_SUCH_THING'], ['caps'])).rejects.toThrow(/CAP_NO_SUCH_THING/);
  });

  it('--disable_no_new_privs leaves NoNewPrivs 0', async () => {
    const on: Probe = (await runProbe(CHROOT, ['caps'])).probe;
    const off: Probe = (await runProbe([...CHROOT, '--disable_no_new_privs'], ['caps'])).probe;
    expect(on.caps.noNewPrivs).toBe(1);
    expect(off.caps.noNewPrivs).toBe(0);
  });
});
