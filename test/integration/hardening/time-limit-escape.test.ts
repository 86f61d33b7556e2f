/**
 * The time limit kills every process the jail started, in every mode, or the launch is refused
 * up front. The attack: without a PID namespace, the program starts a daemon in a new session
 * (setsid), which leaves the jail's process group. As root jail finds it through the jail's
 * cgroup and kills it at the limit; rootless, where jail can create no cgroup, the launch is
 * refused with the reason and the fix, and nothing runs. -Me, whose launcher only waits for the
 * jail's init, refuses to run without a PID namespace.
 */
import { expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { cli, cliFixture, sleep } from '../core/helpers';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import { processesWithArgv } from './helpers';

const DAEMON = ['sleep', '7373'];
const ESCAPE = ['--disable_clone_newpid', '--disable_proc', '--chroot', '/', '-t', '1', '--', '/bin/sh', '-c', `setsid sh -c "${DAEMON.join(' ')} &"; sleep 30`];

describeIf('a setsid daemon without a PID namespace (root)', isRoot ? null : 'needs root', () => {
  cliFixture();
  it('is killed at the time limit through the cgroup: 137, nothing survives', async () => {
    const r = await cli(['-q', ...ESCAPE], { timeoutMs: 20_000 });
    expect(r.code).toBe(137);
    await sleep(200);
    expect(processesWithArgv(DAEMON)).toEqual([]);
  });

  it('-Me refuses to run without a PID namespace', async () => {
    const r = await cli(['-Me', ...ESCAPE], { timeoutMs: 20_000 });
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('-Me (execve mode) needs a PID namespace');
    expect(processesWithArgv(DAEMON)).toEqual([]);
  });
});

describeIf('a setsid daemon without a PID namespace (rootless, no cgroup)', rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-escape');
  it('the launch is refused up front with the reason and the fix; nothing runs', async () => {
    const r = await fixture().jail(['-q', ...ESCAPE], { timeoutMs: 20_000 });
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('without a PID namespace jail needs a cgroup to find and stop every process the program starts');
    expect(r.stderr).toContain('drop --disable_clone_newpid');
    await sleep(200);
    expect(processesWithArgv(DAEMON)).toEqual([]);
  });
});
