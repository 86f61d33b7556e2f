/**
 * The planner checks the addon's list bounds (PLAN_LIMITS, native/prepare.cc) before the addon
 * would refuse the plan, naming the field or flag; at the bound itself the plan is built.
 */
import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../../src/config/load';
import { buildPlan } from '../../../src/sandbox';
import { PLAN_LIMITS } from '../../../src/sandbox/plan';
import type { HostFacts } from '../../../src/sandbox/host';
import { fromFlags } from '../../helpers/config';
import { FAKE_ENV, fakeHost } from '../../helpers/fake-host';
import { thrown } from '../../helpers/thrown';

const planFlags = (argv: string[], host: HostFacts = fakeHost(), env = FAKE_ENV) => {
  const { loaded, command } = fromFlags(argv);
  return buildPlan(loaded, { command, env, host });
};
const planObject = (config: Record<string, unknown>, command: string[] = ['/bin/true']) =>
  buildPlan(configFromObject(config), { command, env: FAKE_ENV, host: fakeHost() });

describe('planner bounds', () => {
  it('capabilities named twice are kept once', () => {
    const p = planFlags(['--cap', 'CAP_NET_RAW', '--cap', 'CAP_NET_RAW', '--cap', 'CAP_CHOWN', '--', '/bin/true']);
    expect(p.plan.caps.keep).toEqual([13, 0]);
    expect(planObject({ cap: Array(100).fill('CAP_SYS_TIME') }).plan.caps.keep).toEqual([25]);
  });

  it(`at most ${PLAN_LIMITS.passFds} distinct pass fds`, () => {
    const fds = (n: number) => Array.from({ length: n }, (_, i) => ['--pass_fd', String(3 + i)]).flat();
    expect(planFlags([...fds(PLAN_LIMITS.passFds), '--pass_fd', '3', '--pass_fd', '1', '--', '/bin/true']).passFds).toHaveLength(PLAN_LIMITS.passFds);
    const e = thrown(() => planFlags([...fds(PLAN_LIMITS.passFds + 1), '--', '/bin/true']));
    expect(e.message).toBe(`flag --pass_fd: ${PLAN_LIMITS.passFds + 1} distinct fds are passed, more than ${PLAN_LIMITS.passFds}`);
    expect(e.hint).toBe('pass fewer fds');
  });

  it(`at most ${PLAN_LIMITS.execStrings} argv and envp entries, and no NUL in the command or the caller's environment`, () => {
    const many = Array.from({ length: PLAN_LIMITS.execStrings }, (_, i) => `a${i}`);
    expect(planObject({}, ['/bin/true', ...many.slice(1)]).plan.exec.argv).toHaveLength(PLAN_LIMITS.execStrings);
    expect(thrown(() => planObject({}, ['/bin/true', ...many])).message).toBe(
      `exec_bin: the command and its arguments (after -- or exec_bin.arg) has ${PLAN_LIMITS.execStrings + 1} entries, more than ${PLAN_LIMITS.execStrings}`,
    );
    expect(thrown(() => planObject({ envar: many.map((v) => `${v}=1`).concat('X=1') })).message).toMatch(
      /^envar: the environment \(keep_env and envar\) has 65537 entries, more than 65536$/,
    );
    const nul = thrown(() => planObject({}, ['/bin/true', 'a\0b']));
    expect([nul.code, nul.message, nul.hint]).toEqual(['usage', 'argv[1] "a\\u0000b" contains a NUL byte, which execve cannot pass', 'remove it from the command and its arguments (after -- or exec_bin.arg)']);
    const env = thrown(() => buildPlan(configFromObject({ keep_env: true }), { command: ['/bin/true'], env: { ...FAKE_ENV, X: 'a\0' }, host: fakeHost() }));
    expect(env.message).toMatch(/^envp\[\d+\] "X=a\\u0000" contains a NUL byte, which execve cannot pass$/);
  });

  it(`at most ${PLAN_LIMITS.mountOps} mount steps`, () => {
    const tmpfs = (n: number) => Array.from({ length: n }, (_, i) => ({ dst: `/t${i}`, fstype: 'tmpfs' }));
    const perMount = planObject({ mount: tmpfs(2) }).plan.mounts.length - planObject({ mount: tmpfs(1) }).plan.mounts.length;
    expect(perMount).toBeGreaterThan(0);
    const n = Math.ceil(PLAN_LIMITS.mountOps / perMount) + 1;
    expect(thrown(() => planObject({ mount: tmpfs(n) })).message).toMatch(/^mount: the mounts need \d+ mount steps, more than the 100000 a jail may have$/);
  });

  it(`max_cpus on a host with CPUs numbered ${PLAN_LIMITS.cpus} and above is refused, not truncated`, () => {
    const host = { ...fakeHost(), allowedCpus: () => [0, 1, 2000, 2001] } as HostFacts;
    expect(thrown(() => planFlags(['--max_cpus', '2', '--', '/bin/true'], host)).message).toBe(
      'flag --max_cpus: this process may run on CPU 2000, but jail pins only to CPUs 0..1023',
    );
    expect(planFlags(['--max_cpus', '4', '--', '/bin/true'], host).plan.cpus).toBeNull();
  });
});
