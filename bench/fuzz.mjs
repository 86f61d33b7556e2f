#!/usr/bin/env node
// Fuzzes config text, JSON, flag lists and kafel policies (bench/fuzz-engine.mjs) through the
// built library: no crash, no input slower than 1 s, no error without a message or (for files)
// a file:line:col. Prints counts and timings; exits 1 on any finding, printing the first ones.
//
// Usage: npm run build:ts && node bench/fuzz.mjs [--runs 100000] [--seed 1]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzz } from './fuzz-engine.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

const { Command, CommanderError } = require('commander');
const { JailError } = require(join(repo, 'dist/errors'));
const { parseConfigText, parseConfigJson } = require(join(repo, 'dist/config/load'));
const { defineJailFlags, configFromFlags, jailFlagNames } = require(join(repo, 'dist/config/flags'));
const { compilePolicy } = require(join(repo, 'dist/policy'));

// Name lookups read a small passwd/group pair, so results do not depend on the machine.
const ids = mkdtempSync(join(tmpdir(), 'jail-fuzz-'));
const idFiles = { passwd: join(ids, 'passwd'), group: join(ids, 'group') };
writeFileSync(idFiles.passwd, 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
writeFileSync(idFiles.group, 'root:x:0:\nnogroup:x:65534:\n');

const api = { JailError, parseConfigText, parseConfigJson, defineJailFlags, configFromFlags, jailFlagNames, compilePolicy, Command, CommanderError };
const result = fuzz(api, { seed: arg('--seed', 1), count: arg('--runs', 100_000), repo, idFiles });
rmSync(ids, { recursive: true });

console.log(`fuzz: ${result.runs} inputs in ${(result.ms / 1000).toFixed(1)} s (seed ${result.seed})`);
for (const [kind, s] of Object.entries(result.byKind)) {
  console.log(`  ${kind.padEnd(7)} ${String(s.runs).padStart(7)} runs  ${String(s.accepted).padStart(6)} accepted  ${String(s.refused).padStart(6)} refused  slowest ${s.slowestMs.toFixed(1)} ms`);
}
console.log(`  crashes ${result.crashes}, hangs ${result.hangs}, unhelpful errors ${result.unhelpful}`);
for (const f of result.findings.slice(0, 5)) console.log(`\n#${f.run} ${f.kind}: ${f.problem}\ninput: ${JSON.stringify(f.input).slice(0, 2000)}`);
process.exit(result.crashes + result.hangs + result.unhelpful > 0 ? 1 : 0);
