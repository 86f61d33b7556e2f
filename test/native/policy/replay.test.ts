/**
 * The unit tests' policy tables replayed in the real kernel: each input runs in a forked child
 * under no_new_privs with the compiled filter, and the kernel's verdict must match the
 * interpreter's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { actionName, compilePolicy, evaluate, hostArch } from '../../../src/policy';
import { CASES } from '../../unit/policy/cases';
import { toData } from '../../unit/policy/helpers';
import { buildHelpers, writeFilter } from './build';

const helpers = buildHelpers();
beforeAll(() => {
  expect(hostArch()).toBe('x86_64'); // the tables use x86_64 numbers
});

function replay(filterPath: string, lines: string[], baseline = false): string[] {
  const out = execFileSync(helpers.replay, ['replay', filterPath, ...(baseline ? ['baseline'] : [])], {
    input: lines.join('\n') + '\n',
    timeout: 30_000,
  });
  return out.toString().trim().split('\n');
}

/** getppid/getpid answer with a pid, which differs between helper runs. */
function normalize(nr: number, outcome: string): string {
  return (nr === 110 || nr === 39) && /^RET [1-9]\d* 0$/.test(outcome) ? 'RET <pid> 0' : outcome;
}

/** What the kernel should do for an interpreter verdict, given the unfiltered outcome. */
function expectedKernel(action: string, nr: number, unfiltered: string | undefined): string {
  const data = Number(/\((\d+)\)/.exec(action)?.[1] ?? 0);
  if (action === 'ALLOW' || action === 'LOG') return unfiltered!;
  if (action.startsWith('ERRNO')) return data === 0 ? 'RET 0 0' : `RET -1 ${Math.min(data, 4095)}`;
  if (action.startsWith('TRAP')) return `TRAP ${data} ${nr | 0}`;
  if (action.startsWith('TRACE') || action === 'USER_NOTIF') return 'RET -1 38'; // no tracer / no listener: ENOSYS
  return action;
}

describe('kernel replay of the policy tables', () => {
  for (const c of CASES.filter((x) => x.kernel)) {
    it(c.name, () => {
      const filter = compilePolicy(c.policy, { archs: ['x86_64'] });
      const path = writeFilter(join(helpers.dir, 'filter.bin'), filter);
      const inputs = c.expect.map(([i]) => i).filter(([arch]) => arch === 'x86_64');
      const lines = inputs.map(([, nr, ...args]) => [nr, ...args].map((v) => BigInt.asUintN(64, BigInt(v)).toString()).join(' '));
      const verdicts = inputs.map((i) => actionName(evaluate(filter, toData(i))));
      const allowed = lines.filter((_, k) => verdicts[k] === 'ALLOW' || verdicts[k] === 'LOG');
      const base = allowed.length > 0 ? replay(join(helpers.dir, 'filter.bin'), allowed, true) : [];
      const got = replay(path, lines);
      let b = 0;
      const want = inputs.map(([, nr], k) => expectedKernel(verdicts[k], nr, verdicts[k] === 'ALLOW' || verdicts[k] === 'LOG' ? base[b++] : undefined));
      const show = (o: string[]) => o.map((x, k) => `${lines[k]} -> ${normalize(inputs[k][1], x)}`);
      expect(show(got)).toEqual(show(want));
    });
  }
});
