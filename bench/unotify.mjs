#!/usr/bin/env node
// What a seccomp user notification costs per syscall: N getppid calls in one jail under
// `USER_NOTIF { getppid }` (each one a round trip to the supervisor's event loop: receive, an
// event to onEvent, CONTINUE) against the same jail under `ERRNO(1) { ptrace } DEFAULT ALLOW`
// (a filter of the same shape that lets getppid through in the kernel). The difference of the
// medians divided by N is the cost of one notification.
//
// Usage: npm run build && node bench/unotify.mjs [--calls N] [--runs R]   (root, or user namespaces enabled)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { run } = createRequire(import.meta.url)(join(root, 'dist', 'index.js'));
const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const CALLS = arg('--calls', 20000);
const RUNS = arg('--runs', 15);

const command = ['/usr/bin/perl', '-e', `getppid() for 1..${CALLS}`];
const variants = {
  notified: 'USER_NOTIF { getppid } DEFAULT ALLOW',
  'not notified': 'ERRNO(1) { ptrace } DEFAULT ALLOW',
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
// Interleaved, so a change in the machine's load hits both alike; the first two runs warm up.
for (let i = 0; i < RUNS + 2; i++) {
  for (const [name, policy] of Object.entries(variants)) {
    let events = 0;
    const t = process.hrtime.bigint();
    const r = await run({ config: { chroot: '/', seccomp_string: [policy] }, command, onEvent: () => events++ });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.outcome !== 'exited' || r.exitCode !== 0) throw new Error(`${name}: ${JSON.stringify(r)}`);
    if (name === 'notified' && events < CALLS) throw new Error(`${name}: ${events} events for ${CALLS} calls`);
    if (i >= 2) samples[name].push(ms);
  }
}
for (const [name, xs] of Object.entries(samples)) console.log(`${name.padEnd(14)} median ${median(xs).toFixed(1)} ms for ${CALLS} getppid calls (${xs.length} runs)`);
const perCall = ((median(samples.notified) - median(samples['not notified'])) / CALLS) * 1000;
console.log(`one notification costs ${perCall.toFixed(1)} µs`);
