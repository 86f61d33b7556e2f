#!/usr/bin/env node
// Policy compiler benchmark: compile time, instructions executed per syscall (BPF interpreter,
// inputs drawn from src/policy/frequency.ts) against program size, and the kernel cost of a
// filter on 10^6 getppid() calls (test/native/seccomp-replay.c).
// Run after `npm run build:ts`:  node bench/policy.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const policy = require(join(root, 'dist/policy'));
const { SYSCALL_FREQUENCY } = require(join(root, 'dist/policy/frequency'));

let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
const names = Object.keys(require(join(root, 'dist/policy/tables/x86_64')).rows.map((r) => r[0]).reduce((o, n) => ((o[n] = 1), o), {}));
const pickN = (n) => {
  const s = new Set(Object.keys(SYSCALL_FREQUENCY).filter((x) => names.includes(x)).slice(0, Math.min(n, 40)));
  while (s.size < n) s.add(names[Math.floor(rand() * names.length)]);
  return [...s];
};

// realistic inputs: syscalls drawn by frequency
const hot = Object.entries(SYSCALL_FREQUENCY).map(([n, f]) => [policy.syscallNumber('x86_64', n), f]).filter(([nr]) => nr !== undefined);
const total = hot.reduce((a, [, f]) => a + f, 0);
const inputs = Array.from({ length: 2000 }, () => {
  let r = rand() * total;
  for (const [nr, f] of hot) if ((r -= f) <= 0) return nr;
  return 0;
});
const avgExecuted = (filter) =>
  inputs.reduce((a, nr) => a + policy.run(filter, { arch: 0xc000003e, nr, args: [3n, 0n, 0n, 0n, 0n, 0n] }).executed, 0) / inputs.length;

const rows = [];
const kafelSize = { 5: 13, 10: 25, 25: 53, 50: 97, 100: 144, 150: 197, 200: 187, 300: 136 };
for (const n of [5, 10, 25, 50, 100, 150, 200, 300]) {
  const src = `ALLOW { ${pickN(n).join(', ')} } DEFAULT KILL_PROCESS`;
  const t0 = process.hrtime.bigint();
  const reps = 20;
  let f;
  for (let i = 0; i < reps; i++) f = policy.compilePolicy(src, { archs: ['x86_64'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / reps;
  const ranges = f.insns.length;
  // kafel's balanced tree executes about ld arch, jeq, ld nr, log2(ranges) jge, ret
  const kafelExec = 4 + Math.log2(Math.max(2, 2 * n));
  rows.push({ policy: `allow-list of ${n}`, insns: ranges, kafel_insns: kafelSize[n], compile_ms: ms.toFixed(2), executed: avgExecuted(f).toFixed(2), kafel_executed_est: kafelExec.toFixed(1) });
}
for (const file of ['default-deny', 'no-network', 'python-allowlist']) {
  const f = policy.compilePolicyFile(join(root, 'policies', `${file}.policy`), { archs: ['x86_64'] });
  rows.push({ policy: `policies/${file}`, insns: f.insns.length, kafel_insns: '', compile_ms: '', executed: avgExecuted(f).toFixed(2), kafel_executed_est: '' });
}
console.table(rows);

// kernel overhead: 10^6 getppid with and without a 150-syscall allow-list installed
const dir = mkdtempSync(join(tmpdir(), 'policy-bench-'));
const helper = join(dir, 'seccomp-replay');
execFileSync('cc', ['-O2', '-pthread', '-o', helper, join(root, 'test/native/seccomp-replay.c')]);
for (const [label, src] of [
  ['150-syscall allow-list', `ALLOW { getppid, ${pickN(150).filter((n) => n !== 'getppid').join(', ')} } DEFAULT KILL_PROCESS`],
  ['policies/default-deny', null],
]) {
  const f = src ? policy.compilePolicy(src, { archs: ['x86_64'] }) : policy.compilePolicyFile(join(root, 'policies/default-deny.policy'), { archs: ['x86_64'] });
  const b = Buffer.alloc(8 * f.insns.length);
  f.insns.forEach((i, n) => { b.writeUInt16LE(i.code, 8 * n); b.writeUInt8(i.jt, 8 * n + 2); b.writeUInt8(i.jf, 8 * n + 3); b.writeUInt32LE(i.k, 8 * n + 4); });
  writeFileSync(join(dir, 'f.bin'), b);
  const out = execFileSync(helper, ['bench', join(dir, 'f.bin'), '1000000']).toString().trim();
  const executed = policy.run(f, { arch: 0xc000003e, nr: 110, args: [] }).executed;
  console.log(`getppid x 10^6, ${label} (${f.insns.length} insns, ${executed} executed for getppid): ${out}`);
}
