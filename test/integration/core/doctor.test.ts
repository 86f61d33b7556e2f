/**
 * `jail doctor` on this machine, as root and as an unprivileged user: its answers come from real
 * jails, so they must match what jail can really do here (root: everything; a user without a
 * delegated cgroup: jails run, cgroup limits do not, with the fix).
 */
import { expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import { cli, cliFixture } from './helpers';

interface Report {
  canRun: boolean;
  checks: Array<{ name: string; ok: boolean | null; detail: string; fix?: string }>;
}

const check = (r: Report, prefix: string) => {
  const c = r.checks.find((x) => x.name.startsWith(prefix));
  if (!c) throw new Error(`no check named '${prefix}...' in ${JSON.stringify(r.checks.map((x) => x.name))}`);
  return c;
};

describeIf('jail doctor as root', isRoot ? null : 'needs root', () => {
  cliFixture();
  it('--json: a default jail, a fresh /proc and cgroup limits all work; exit 0', async () => {
    const r = await cli(['doctor', '--json'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.canRun).toBe(true);
    for (const name of ['kernel', 'user namespaces', 'seccomp', 'a default jail', 'a fresh /proc', 'cgroup limits']) expect(check(report, name).ok, name).toBe(true);
  });

  it('the text form says so in one line per check', async () => {
    const r = await cli(['doctor'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}user namespaces: /m);
    expect(r.stdout.trim().split('\n').pop()).toBe('jail can run here.');
  });
});

describeIf('jail doctor as an unprivileged user', rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-doctor');
  it('jails run; cgroup limits do not (v1 belongs to root), and the fix says what to do', async () => {
    const r = await fixture().jail(['doctor', '--json'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.canRun).toBe(true);
    expect(check(report, 'a default jail').ok).toBe(true);
    const cg = check(report, 'cgroup limits');
    expect(cg.ok).toBe(false);
    expect(cg.detail).toMatch(/cgroup/);
    expect(cg.fix).toMatch(/root|Delegate/);
  });
});
