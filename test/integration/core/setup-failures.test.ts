/**
 * Setup failures: what is caught before launch (missing bind source: 255 and a message naming
 * the mount, nothing started) and what the jail reports from inside (stage, errno name, a
 * message naming the mount or program, a hint), through run() and the CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { run } from '../../../src/index';
import { childrenOfThisProcess, cli, probeDir, runFlags, cliFixture } from './helpers';

const CHROOT = ['--chroot', '/'];

describeAsRoot('setup failures', () => {
  const tmp = cliFixture({ probe: true });

  it('a missing bind source is refused before launch, naming the mount (library: a thrown error, no onStart)', async () => {
    let started = false;
    const err = await runFlags([...CHROOT, '-R', '/nonexistent/jail-it-src:/mnt'], ['/bin/true'], { onStart: () => (started = true) }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(/\/nonexistent\/jail-it-src/);
    expect(err!.message).toMatch(/mount #\d/);
    expect(started).toBe(false);
  });

  it('CLI: a missing bind source exits 255 with a message naming the mount', async () => {
    const r = await cli([...CHROOT, '-R', '/nonexistent/jail-it-src:/mnt', '--', '/bin/echo', 'launched']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/mount #\d \/nonexistent\/jail-it-src -> \/mnt/);
    expect(r.stderr).toMatch(/does not exist/);
  });

  it('a bind onto a missing mount point inside the read-only chroot: stage mount, EROFS, names the mount, hints', async () => {
    const r = await runFlags([...CHROOT, '-R', `${tmp().dir}:/no-such-dir-jail-it`], ['/bin/true']);
    expect(r.outcome).toBe('setup-failed');
    expect(r.exitCode).toBe(255);
    expect(r.error?.stage).toBe('mount');
    expect(r.error?.errno).toBe('EROFS');
    expect(r.error?.message).toContain(`${tmp().dir} -> /no-such-dir-jail-it`);
    expect(r.error?.message).toMatch(/hint:/);
    // and nothing was created on the host
    expect(fs.existsSync('/no-such-dir-jail-it')).toBe(false);
  });

  it('CLI: the same failure exits 255 and the error line names the mount', async () => {
    const r = await cli(['-q', '--report', 'json', ...CHROOT, '-R', `${tmp().dir}:/no-such-dir-jail-it`, '--', '/bin/true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/^\[E\].*no-such-dir-jail-it.*EROFS/m);
    const report = JSON.parse(r.stderr.trim().split('\n').pop()!);
    expect(report).toMatchObject({ outcome: 'setup-failed', exitCode: 255, error: { stage: 'mount', errno: 'EROFS' } });
  });

  it('exec of a path missing inside the jail: stage execve, ENOENT, with a hint', async () => {
    const r = await runFlags(['-R', `${probeDir()}:/probe`], ['/usr/bin/env']);
    expect(r.outcome).toBe('setup-failed');
    expect(r.exitCode).toBe(255);
    expect(r.error?.stage).toBe('execve');
    expect(r.error?.errno).toBe('ENOENT');
    expect(r.error?.message).toContain('/usr/bin/env');
    expect(r.error?.message).toMatch(/hint:/);
  });

  it('exec of a file without execute permission: EACCES', async () => {
    const file = path.join(tmp().dir, 'not-executable');
    fs.writeFileSync(file, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const r = await runFlags(CHROOT, [file]);
    expect(r.outcome).toBe('setup-failed');
    expect(r.error?.stage).toBe('execve');
    expect(r.error?.errno).toBe('EACCES');
  });

  it('exec of an executable that is no program (no ELF, no #!): ENOEXEC by name', async () => {
    const file = path.join(tmp().dir, 'garbage');
    fs.writeFileSync(file, 'this is not a program\n');
    fs.chmodSync(file, 0o755);
    const r = await runFlags(CHROOT, [file]);
    expect(r.outcome).toBe('setup-failed');
    expect(r.error?.stage).toBe('execve');
    expect(r.error?.errno).toBe('ENOEXEC');
    expect(r.error?.message).toContain(file);
  });

  it('a missing working directory: stage chdir, names it', async () => {
    const r = await runFlags([...CHROOT, '-D', '/no/such/cwd-jail-it'], ['/bin/true']);
    expect(r.outcome).toBe('setup-failed');
    expect(r.error?.stage).toBe('chdir');
    expect(r.error?.errno).toBe('ENOENT');
    expect(r.error?.message).toContain('/no/such/cwd-jail-it');
  });

  it('a filesystem type the kernel does not know: stage mount, ENODEV, names the mount', async () => {
    const r = await runFlags(['-R', `${probeDir()}:/probe`, '-m', 'none:/x:nosuchfs-jail-it:'], ['/probe/probe']);
    expect(r.outcome).toBe('setup-failed');
    expect(r.error?.stage).toBe('mount');
    expect(r.error?.errno).toBe('ENODEV');
    expect(r.error?.message).toMatch(/nosuchfs-jail-it/);
    expect(r.error?.message).toMatch(/\/x/);
  });

  it('a file where a directory is needed: refused, naming the mount', async () => {
    const err = await run({
      command: ['/bin/true'],
      config: { mount: [{ src: '/etc/hostname', dst: '/x', is_bind: true, is_dir: true }] },
    }).then(
      (r) => r,
      (e: Error) => e,
    );
    const text = err instanceof Error ? err.message : `${err.error?.stage} ${err.error?.message}`;
    expect(text).toMatch(/\/etc\/hostname/);
    expect(text).toMatch(/not a directory|ENOTDIR/i);
  });

  it('an empty jail (no mounts at all) cannot exec anything: 255 (nsjail §9.9)', async () => {
    const r = await run({ command: ['/bin/true'], config: {} });
    expect(r.outcome).toBe('setup-failed');
    expect(r.exitCode).toBe(255);
    expect(r.error?.stage).toBe('execve');
  });

  it('a failed setup leaves no child process behind', async () => {
    await runFlags([...CHROOT, '-D', '/no/such/cwd-jail-it'], ['/bin/true']);
    expect(childrenOfThisProcess()).toEqual([]);
  });
});
