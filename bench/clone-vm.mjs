#!/usr/bin/env node
// What sharing the supervisor's memory until execve (clone3 CLONE_VM) saves per launch, and so
// what a plan pays when the child must get memory of its own (docs/architecture.md §4: a plan
// that sets oom_score_adj, a memory limit, or ids that differ on the host). Both variants run
// /bin/true under `--chroot /` through run(); `oom_score_adj: 0` changes nothing in the jail but
// turns CLONE_VM off, so the difference is the clone alone.
//
// Usage: npm run build && node bench/clone-vm.mjs [--runs N]   (root, or user namespaces enabled)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { run, planJail } = createRequire(import.meta.url)(join(root, 'dist', 'index.js'));
const argRuns = process.argv.indexOf('--runs');
const RUNS = argRuns > 0 ? Number(process.argv[argRuns + 1]) : 300;

const variants = {
  'shared memory (CLONE_VM)': { chroot: '/' },
  'own memory (fork-like clone3)': { chroot: '/', oom_score_adj: 0 },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const [name, config] of Object.entries(variants)) {
  const { plan } = planJail({ config, command: ['/bin/true'] });
  if (plan.cloneVm !== name.includes('CLONE_VM')) throw new Error(`${name}: the plan says cloneVm ${plan.cloneVm}`);
}
// Interleaved, so a change in the machine's load hits both alike.
for (let i = 0; i < RUNS + 10; i++) {
  for (const [name, config] of Object.entries(variants)) {
    const t = process.hrtime.bigint();
    const r = await run({ config, command: ['/bin/true'] });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.outcome !== 'exited' || r.exitCode !== 0) throw new Error(`${name}: ${JSON.stringify(r)}`);
    if (i >= 10) samples[name].push(ms);
  }
}
const rss = process.memoryUsage().rss / 2 ** 20;
for (const [name, xs] of Object.entries(samples)) console.log(`${name.padEnd(32)} median ${median(xs).toFixed(2)} ms over ${xs.length} runs`);
console.log(`supervisor RSS ${rss.toFixed(0)} MiB`);
