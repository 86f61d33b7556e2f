/**
 * Property: every plan the config stage and the planner accept is accepted by the addon's own
 * validator (validatePlan: the checks launch makes before clone). The configs are random but
 * seeded (a failure names its seed and prints the config), and reach each field's edges: every
 * integer field of the schema takes its type's bounds, 0, ±1 around its check's bounds and
 * random values; lists take their planner limits. A config the planner refuses is fine (it said
 * why in the user's words); only an addon refusal fails the test.
 */
import '../../helpers/lazy-require';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../../src/config/load';
import { NSJAIL_CONFIG, type FieldDef } from '../../../src/config/schema';
import { JailError } from '../../../src/errors';
import type { LaunchResources, NativeAddon } from '../../../src/native/types';
import { compilePolicy } from '../../../src/policy';
import type { Filter } from '../../../src/policy/types';
import { buildPlan } from '../../../src/sandbox';
import type { HostFacts } from '../../../src/sandbox/host';
import { PLAN_LIMITS } from '../../../src/sandbox/plan';
import { ID_FILES } from '../../helpers/config';
import { FAKE_ENV, fakeHost } from '../../helpers/fake-host';
import { requireAddon } from '../../helpers/native';

const SEED = 0x5eed_b0d5;
const RUNS = 400;
const BUDGET_MS = 30_000;

/** mulberry32: small, seedable, good enough to spread values. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPE_RANGE: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

/** The values of an integer field the schema accepts: its type's edges, values around its check's edges, randoms. */
function acceptedInts(f: FieldDef, r: () => number): number[] {
  const [lo, hi] = TYPE_RANGE[f.type];
  const probes = [lo, lo + 1, -1001, -1000, -21, -20, -1, 0, 1, 2, 3, 19, 20, 1000, 1001, 1023, 1024, 65535, 65536, hi - 1, hi];
  for (let i = 0; i < 4; i++) probes.push(Math.floor(lo + r() * (hi - lo)));
  return probes.filter((v) => v >= lo && v <= hi && f.check?.(v) === undefined);
}

const CAPS = ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN', 'CAP_SYS_TIME', 'CAP_CHECKPOINT_RESTORE', 'CAP_NET_BIND_SERVICE'];
const POLICIES = [
  'DEFAULT ALLOW',
  'KILL { ptrace, process_vm_readv } DEFAULT ALLOW',
  'ALLOW { read, write { fd == 1 }, exit_group } DEFAULT KILL_PROCESS',
  'ERRNO(1) { kill { pid == -1 } } DEFAULT ERRNO(4095)',
  // Close to BPF_MAXINSNS (4096): a long chain of argument tests.
  `ALLOW { write { ${Array.from({ length: 4070 }, (_, i) => `fd == ${i}`).join(' || ')} } } DEFAULT KILL`,
];

const filters = new Map<string, Filter>();
const compiled = (policy: string): Filter => filters.get(policy) ?? filters.set(policy, compilePolicy(policy)).get(policy)!;

const pick = <T,>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

function randomConfig(r: () => number, openFds: number[]): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  for (const f of NSJAIL_CONFIG.fields) {
    if (f.repeated || r() < 0.7) continue;
    if (f.type in TYPE_RANGE) c[f.name] = pick(r, acceptedInts(f, r));
    else if (f.type === 'bool') c[f.name] = r() < 0.5;
    else if (f.type === 'enum') c[f.name] = pick(r, [...f.enum!.values]);
  }
  // Settings that need something the generic pass cannot give.
  // Pairs the config stage refuses together, and net_cls, which needs cgroup v1.
  if (r() < 0.5) delete c.cgroup_mem_memsw_max;
  else delete c.cgroup_mem_swap_max;
  delete c.cgroup_net_cls_classid;
  c.hostname = 'h'.repeat(pick(r, [0, 1, 64]));
  c.cwd = pick(r, ['/', '/tmp', '/a/b']);
  c.cap = Array.from({ length: pick(r, [0, 1, 5, 100]) }, () => pick(r, CAPS));
  c.pass_fd = Array.from({ length: pick(r, [0, 1, 3]) }, () => pick(r, [0, 1, 2, ...openFds]));
  const ids = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ inside_id: String(pick(r, [0, i, 65534, 4294967294])), outside_id: String(pick(r, [0, 1000, 4294967294])), count: pick(r, [0, 1, 65536]) }));
  c.uidmap = ids(pick(r, [0, 1, 2, 340]));
  c.gidmap = ids(pick(r, [0, 1, 2, 340]));
  if (r() < 0.8) c.clone_newns = true;
  c.mount = c.clone_newns === false ? [] : Array.from({ length: pick(r, [0, 1, 8, 200]) }, (_, i) =>
    pick(r, [
      { dst: `/t${i}`, fstype: 'tmpfs', options: 'size=1', rw: r() < 0.5, nosuid: true, noexec: r() < 0.5 },
      { src: '/usr', dst: `/u${i}`, is_bind: true, rw: r() < 0.5 },
      { src: 'x', dst: `/s${i}`, is_symlink: true },
      { dst: `/f${i}`, src_content: 'x\0y' },
    ]),
  );
  c.envar = Array.from({ length: pick(r, [0, 2, PLAN_LIMITS.execStrings - Object.keys(FAKE_ENV).length]) }, (_, i) => `V${i}=${i}`);
  if (r() < 0.3) c.seccomp_string = [pick(r, POLICIES)];
  return c;
}

describe('plans the planner accepts, the addon accepts', () => {
  it(`${RUNS} seeded random configs across every field's range (seed ${SEED})`, () => {
    const addon: NativeAddon = requireAddon();
    const openFds = Array.from({ length: 4 }, () => fs.openSync('/dev/null', 'r'));
    const cgroupFd = addon.openPath('/', true);
    const execFd = addon.openPath('/bin/true', false);
    const r = rng(SEED);
    const start = Date.now();
    let accepted = 0;
    let refusedByPlanner = 0;
    try {
      for (let run = 0; run < RUNS && Date.now() - start < BUDGET_MS; run++) {
        const config = randomConfig(r, openFds);
        const command = ['/bin/true', ...Array.from({ length: pick(r, [0, 1, PLAN_LIMITS.execStrings - 1]) }, (_, i) => `a${i}`)];
        const host = { ...fakeHost({ cgroups: r() < 0.8 ? 'v2' : 'none', euid: r() < 0.1 ? 1000 : 0 }), allowedCpus: () => [0, 1, 2, 1023] } as HostFacts;
        let planned;
        try {
          const loaded = configFromObject(config, undefined, { idFiles: ID_FILES });
          const policy = loaded.config.seccompString.join('\n');
          const filter = policy ? compiled(policy) : null;
          planned = buildPlan(loaded, { command, env: FAKE_ENV, filter, host });
        } catch (e) {
          if (!(e instanceof JailError)) throw e;
          refusedByPlanner++;
          continue;
        }
        const resources: LaunchResources = {
          stdio: [pick(r, [-1, 0]), pick(r, [-1, 1, openFds[0]]), pick(r, [-1, 2])],
          passFds: planned.passFds,
          execFd: planned.execFdPath === null ? -1 : execFd,
          cgroupFd: planned.plan.cgroup?.cloneInto ? cgroupFd : -1,
          netGate: [-1, -1],
        };
        try {
          addon.validatePlan(planned.plan, resources);
        } catch (e) {
          const shown = JSON.stringify(config, (_key, v) => (Array.isArray(v) && v.length > 8 ? `[${v.length} entries]` : v));
          throw new Error(`run ${run} (seed ${SEED}): the addon refused a plan the planner accepted: ${(e as Error).message}\nconfig: ${shown}`);
        }
        accepted++;
      }
    } finally {
      for (const fd of openFds) fs.closeSync(fd);
      addon.close(cgroupFd);
      addon.close(execFd);
    }
    // The property means little unless many generated configs reach the addon.
    expect(accepted).toBeGreaterThan((accepted + refusedByPlanner) / 3);
    expect(accepted).toBeGreaterThan(100);
  }, 60_000);
});
