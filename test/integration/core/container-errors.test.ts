/**
 * Inside a container jail names the true cause of a refusal and the option that fixes it, never
 * "run as root" to a process that is root. The container's conditions are made for real in a
 * private mount namespace (unshare -m, so the host is untouched): a path of /proc masked by a
 * bind mount, as Docker and podman do, and a read-only cgroup filesystem.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { hasTool, JAIL_BIN, SYSTEM_PATH } from './helpers';

/** `sh -c SETUP && jail ARGS` in a private mount namespace; the CLI's exit code and output. */
function inMountNamespace(setup: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const jail = [process.execPath, JAIL_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) =>
    execFile('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${setup} && exec ${jail}`], { timeout: 60_000, env: { PATH: SYSTEM_PATH } }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, stdout, stderr }),
    ),
  );
}

describeIf('errors inside a container', isRoot ? (hasTool('unshare') ? null : 'unshare is not installed (util-linux)') : 'needs root', () => {
  it('a masked /proc: the fresh /proc is refused, and the hint names the mask and the runtime options', async () => {
    const r = await inMountNamespace('mount --bind /dev/null /proc/keys', ['-q', '--chroot', '/', '--', '/bin/true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/mount #\d+ proc -> \/proc \(proc, ro\): .*EPERM/);
    expect(r.stderr).toContain('this /proc has paths masked by other mounts (/proc/keys)');
    expect(r.stderr).toContain('systempaths=unconfined');
    expect(r.stderr).toContain('unmask=ALL');
  });

  it('a read-only cgroup filesystem: the cause is the read-only mount, not permissions, and root is not told to be root', async () => {
    // The memory hierarchy on a cgroup v1 host, the unified one on v2 (the VM lane).
    const mount = fs.existsSync('/sys/fs/cgroup/memory') ? '/sys/fs/cgroup/memory' : '/sys/fs/cgroup';
    const r = await inMountNamespace(`mount -o remount,bind,ro ${mount}`, ['-q', '--chroot', '/', '--cgroup_mem_max', String(64 << 20), '--', '/bin/true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(new RegExp(`cannot create cgroups in ${mount}/\\S*: the cgroup filesystem at ${mount} is mounted read-only`));
    expect(r.stderr).not.toMatch(/run jail as root/);
  });

  it('jail doctor there: the fresh /proc check fails with the same words, and jails without /proc still run', async () => {
    const r = await inMountNamespace('mount --bind /dev/null /proc/keys', ['doctor', '--json']);
    const report = JSON.parse(r.stdout) as { canRun: boolean; checks: Array<{ name: string; ok: boolean | null; detail: string }> };
    expect(report.checks.find((c) => c.name.startsWith('a fresh /proc'))).toMatchObject({ ok: false });
    expect(report.checks.find((c) => c.name.startsWith('a fresh /proc'))!.detail).toContain('masked');
    expect(report.checks.find((c) => c.name.startsWith('a default jail'))).toMatchObject({ ok: true });
    expect(r.code).toBe(0);
  });
});
