/**
 * No setting of a jail changes the process that supervises it. While the child of a CLONE_VM
 * launch shares the supervisor's memory, the kernel applies some things to every process sharing
 * it: oom_score_adj, the "dumpable" flag reset by a kernel id change, and the OOM killer's choice
 * of victims. These tests read the supervisor's own state (this test process, which runs the jails
 * through the library) before and after jails that set each of them, and attack from inside too:
 * a jail that runs out of a 1 MiB memory limit during its setup must fail alone.
 */
import * as fs from 'node:fs';
import { beforeAll, expect, it } from 'vitest';
import { describeIf, isRoot } from '../../helpers/env';
import { probePath, runFlags, runProbe } from '../core/helpers';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import { runNodeScript, scriptJson } from './helpers';

/** What a jail might leak into: /proc/self of this process, and whether it is still dumpable. */
function supervisorState(): Record<string, string | boolean> {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  return {
    oomScoreAdj: fs.readFileSync('/proc/self/oom_score_adj', 'utf8').trim(),
    noNewPrivs: field('NoNewPrivs'),
    seccomp: field('Seccomp'),
    capEff: field('CapEff'),
    capBnd: field('CapBnd'),
    sigIgn: field('SigIgn'),
  };
}

/**
 * An unprivileged supervisor that runs a jail whose uid is a subordinate id (newuidmap), so the
 * kernel id changes in the child. While a process is dumpable its /proc files belong to its own
 * uid; an undumpable one's belong to root. The script reports the owner before and after.
 */
const DUMPABLE_SCRIPT = (uid: number, gid: number, subuid: number, subgid: number) => `
const fs = require('node:fs');
const owner = () => fs.statSync('/proc/self/status').uid;
(async () => {
  const before = owner();
  const map = (sub, own) => [{ inside_id: '1', outside_id: String(sub), count: 1, use_newidmap: true }, { inside_id: '0', outside_id: String(own), count: 1, use_newidmap: true }];
  const r = await jail.run({ config: { chroot: '/', uidmap: map(${subuid}, ${uid}), gidmap: map(${subgid}, ${gid}) }, command: ['/usr/bin/id', '-u'] });
  console.log(JSON.stringify({ before, after: owner(), outcome: r.outcome, stdout: r.stdout, error: r.error }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describeIf('a jail never changes its supervisor', isRoot ? null : 'needs root', () => {
  let before: Record<string, string | boolean>;
  beforeAll(() => {
    probePath();
    before = supervisorState();
  });

  it('oom_score_adj 777: the jail has it, the supervisor keeps its own', async () => {
    const { result, probe } = await runProbe(['--chroot', '/', '--oom_score_adj', '777'], ['misc']);
    expect(result.outcome).toBe('exited');
    expect(probe.oomScoreAdj).toBe(777);
    expect(supervisorState()).toEqual(before);
  });

  it('a jail whose kernel uid differs (65534 mapped to host 65534): the supervisor is unchanged', async () => {
    const { result, probe } = await runProbe(['--chroot', '/', '-u', '65534:65534:1', '-g', '65534:65534:1'], ['ids']);
    expect(result.outcome).toBe('exited');
    expect(probe.uid).toBe(65534);
    expect(supervisorState()).toEqual(before);
  });

  it('without a user namespace, setuid 65534: the supervisor is unchanged', async () => {
    const { result, probe } = await runProbe(['--chroot', '/', '--disable_clone_newuser', '-u', '65534', '-g', '65534'], ['ids']);
    expect(result.outcome).toBe('exited');
    expect(probe.uid).toBe(65534);
    expect(supervisorState()).toEqual(before);
  });

  it('a 1 MiB memory limit: each jail that needs more is OOM-killed alone, the supervisor lives on unchanged', async () => {
    for (let i = 0; i < 5; i++) {
      const result = await runFlags(['--chroot', '/', '--cgroup_mem_max', String(1024 * 1024)], [probePath(), 'alloc:8']);
      expect(result.outcome).toBe('oom');
    }
    expect(supervisorState()).toEqual(before);
  });
});

describeIf('an unprivileged supervisor stays dumpable', rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-dumpable');
  it('after a jail whose uid is a subordinate id (newuidmap), its /proc files are still its own', async () => {
    const { user, jailRoot } = fixture();
    const r = await runNodeScript(DUMPABLE_SCRIPT(user.uid, user.gid, user.subuid![0], user.subgid![0]), {
      wrapper: ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'],
      jailRoot,
    });
    const out = scriptJson(r);
    expect(out).toMatchObject({ outcome: 'exited', stdout: '1\n' });
    expect(out.before).toBe(user.uid);
    expect(out.after).toBe(user.uid);
  });
});
