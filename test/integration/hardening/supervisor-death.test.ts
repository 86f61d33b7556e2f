/**
 * A jail dies with its supervisor, whatever ids it runs as. The kernel clears the parent-death
 * signal whenever a process's effective ids change, so a child that armed it before switching to
 * the jail's uid would live on, reparented, with no time limit. Each case starts `jail -t 0 --
 * sleep N` (a duration no other test uses, to find the process from the host), waits until the
 * program runs, SIGKILLs the CLI and requires the program to be gone within a second. As root
 * and rootless, for every kind of id mapping, and for -Me (where jail's launcher is the parent).
 */
import type { ChildProcess } from 'node:child_process';
import { expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { cli, cliFixture, waitFor, type CliOptions, type CliResult } from '../core/helpers';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import { processesWithArgv } from './helpers';

let nextDuration = 7801;

/** Runs the jail, kills its supervisor once `sleep` runs, and returns how long the jail outlived it. */
async function outlives(run: (args: string[], opts: CliOptions) => Promise<CliResult>, args: string[]): Promise<number> {
  const argv = ['sleep', String(nextDuration++)];
  let cliProcess: ChildProcess | undefined;
  const done = run([...args, '-q', '-t', '0', '--', '/bin/' + argv[0], argv[1]], { timeoutMs: 20_000, onSpawn: (c) => (cliProcess = c) });
  await waitFor(() => processesWithArgv(['/bin/' + argv[0], argv[1]]).length === 1, 10_000, `the jailed ${argv.join(' ')} to run`);
  const killedAt = Date.now();
  cliProcess!.kill('SIGKILL');
  await done;
  const gone = () => processesWithArgv(['/bin/' + argv[0], argv[1]]).length === 0;
  await waitFor(gone, 5000, `the jailed ${argv.join(' ')} to die with its supervisor`, 5);
  return Date.now() - killedAt;
}

describeIf('a SIGKILLed supervisor takes its jail along (root)', isRoot ? null : 'needs root', () => {
  cliFixture();
  const modes: Array<[string, string[]]> = [
    ['uid 0, mapped to root', ['--chroot', '/']],
    ['uid 65534 mapped to host 65534 (a kernel id change)', ['--chroot', '/', '-u', '65534:65534:1', '-g', '65534:65534:1']],
    ['uid 65534 mapped to root', ['--chroot', '/', '-u', '65534', '-g', '65534']],
    ['no user namespace, setuid 65534', ['--chroot', '/', '--disable_clone_newuser', '-u', '65534', '-g', '65534']],
    ['-Me, uid 65534 mapped to host 65534', ['-Me', '--chroot', '/', '-u', '65534:65534:1', '-g', '65534:65534:1']],
  ];
  for (const [name, args] of modes) {
    it(`${name}: gone within a second`, async () => {
      expect(await outlives(cli, args)).toBeLessThanOrEqual(1000);
    });
  }
});

describeIf('a SIGKILLed supervisor takes its jail along (rootless)', rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-death');
  it('own uid, uid 0 inside, a subordinate uid through newuidmap: each gone within a second', async () => {
    const { user } = fixture();
    const [su] = user.subuid!;
    const [sg] = user.subgid!;
    const modes = [
      ['--chroot', '/'],
      ['--chroot', '/', '-u', '0', '-g', '0'],
      ['--chroot', '/', '-U', `1:${su}:1`, '-U', `0:${user.uid}:1`, '-G', `1:${sg}:1`, '-G', `0:${user.gid}:1`],
    ];
    for (const args of modes) expect(await outlives((a, o) => fixture().jail(a, o), args), args.join(' ')).toBeLessThanOrEqual(1000);
  });
});
