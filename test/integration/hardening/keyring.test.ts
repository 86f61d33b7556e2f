/**
 * The caller's session keyring is out of the jail's reach. A real secret is planted on the host
 * first (`keyctl add user s hunter2 @s` in a fresh session), then jail runs in that session and
 * the jailed program tries for it as an attacker would: by the key's serial, by searching its
 * session keyring, and by name. As root and rootless, under every kind of id mapping: the same
 * uid inside and out, another uid through a map, no user namespace at all, newuidmap ranges.
 * A control run outside the jail proves the attempt finds the key when nothing stops it.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { assertBuilt, hasTool, JAIL_BIN, SYSTEM_PATH } from '../core/helpers';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';

const SECRET = 'hunter2-' + process.pid;

/** What the jailed (or control) program runs: three ways to the key, each with its exit status. */
const ATTEMPT = 'keyctl print "$S" 2>&1; echo "print=$?"; keyctl search @s user s 2>&1; echo "search=$?"; keyctl print %user:s 2>&1; echo "named=$?"';

/**
 * In a fresh session keyring holding the secret: `jail ARGS -- sh -c ATTEMPT` (or the attempt
 * itself when args is null), as `user` when given.
 */
function attempt(args: string[] | null, opts: { user?: { uid: number; gid: number }; jailBin?: string } = {}): string {
  const jail = args === null ? '' : `exec ${process.execPath} ${opts.jailBin ?? JAIL_BIN} -q ${args.join(' ')} -- /bin/sh -c '${ATTEMPT.replace(/'/g, `'\\''`)}'`;
  const inner = `S=$(keyctl add user s ${SECRET} @s) || exit 99; export S; ${args === null ? ATTEMPT : jail}`;
  const cmd = ['keyctl', 'session', '-', 'sh', '-c', inner];
  const argv = opts.user ? ['setpriv', `--reuid=${opts.user.uid}`, `--regid=${opts.user.gid}`, '--clear-groups', ...cmd] : cmd;
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000, cwd: '/', env: { PATH: SYSTEM_PATH } });
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    throw new Error(`exit ${err.status}: ${err.stdout}${err.stderr}`);
  }
}

function expectUnreachable(out: string): void {
  expect(out).not.toContain(SECRET);
  for (const way of ['print', 'search', 'named']) expect(out).toMatch(new RegExp(`^${way}=[1-9]`, 'm'));
}

const keyctlReason = () => (hasTool('keyctl') ? null : 'keyctl is not installed (Debian package keyutils)');

describeIf('the host keyring, as root', isRoot ? keyctlReason() : 'needs root', () => {
  beforeAll(() => assertBuilt());

  it('control: outside a jail the attempt reads the secret', () => {
    expect(attempt(null)).toContain(SECRET);
  });

  const modes: Array<[string, string[]]> = [
    ['uid 0 mapped to root', ['--chroot', '/']],
    ['uid 65534 mapped to host 65534', ['--chroot', '/', '-u', '65534:65534:1', '-g', '65534:65534:1']],
    ['uid 65534 mapped to root', ['--chroot', '/', '-u', '65534', '-g', '65534']],
    ['no user namespace, setuid 65534', ['--chroot', '/', '--disable_clone_newuser', '-u', '65534', '-g', '65534']],
  ];
  for (const [name, args] of modes) {
    it(`${name}: no way to the secret`, () => expectUnreachable(attempt(args)));
  }
});

describeIf('the host keyring, rootless', rootlessReason() ?? keyctlReason(), () => {
  const fixture = unprivilegedUser('jail-it-keyring');

  it('control: outside a jail the user reads its own secret', () => {
    expect(attempt(null, { user: fixture().user })).toContain(SECRET);
  });

  it('own uid, uid 0 inside, and newuidmap ranges: no way to the secret', () => {
    const { user, jailRoot } = fixture();
    const [su] = user.subuid!;
    const [sg] = user.subgid!;
    const jailBin = path.join(jailRoot, 'bin', 'jail');
    const modes = [
      ['--chroot', '/'],
      ['--chroot', '/', '-u', '0', '-g', '0'],
      // The first map names the jail's ids: uid 1 inside is a subordinate id outside.
      ['--chroot', '/', '-U', `1:${su}:1`, '-U', `0:${user.uid}:1`, '-G', `1:${sg}:1`, '-G', `0:${user.gid}:1`],
    ];
    for (const args of modes) expectUnreachable(attempt(args, { user, jailBin }));
  });
});
