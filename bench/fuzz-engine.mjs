// The fuzz engine behind bench/fuzz.mjs (full run, on the built dist/) and its CI slice
// (test/unit/fuzz.test.ts, on src/): seeded mutations of config text (text proto), JSON, flag
// lists and kafel sources, through the same entry points the CLI uses. A finding is
//   - a crash: anything thrown that is not a JailError;
//   - a hang: one input taking more than `slowMs` (inputs are small, so this is a loop, not a
//     slow machine; the calls are synchronous, so a true endless loop stops the run instead);
//   - an unhelpful error: a JailError (or one of the errors it carries) without a message, or,
//     for file input (config text, JSON, policies), without a file:line:col span.
// The engine only takes functions (`api`), so both callers fuzz the code they mean.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Deterministic PRNG (mulberry32), so a finding can be replayed from its seed. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (xs) => xs[int(xs.length)];
  return { int, pick };
}

/** Config-format tokens worth inserting: syntax, edge numbers, field and enum names, escapes. */
export const CONFIG_TOKENS = [
  '{', '}', '<', '>', '[', ']', ':', ';', ',', '-', '"', "'", '\\', '#', '\n', ' ', '.', '/', '0', '0x', '077', '09', '1e9',
  '-1', '4294967296', '18446744073709551616', 'true', 'f', 'inf', 'nan', 'ONCE', 'LISTEN', 'mount', 'dst', 'src_content',
  'uidmap', 'inside_id', 'exec_bin', 'user_net', 'time_limit', 'isBind', '"\\x', '"\\u12"', '"\\377"', 'null', '"é"', '\u{1F600}',
];

const POLICY_TOKENS = [
  '{', '}', '(', ')', '[', ']', ',', '!', '#', '==', '!=', '<', '<=', '>', '>=', '&&', '||', '&', '|', ' ', '\n', '/*', '*/', '//',
  '0', '0x', '-1', '18446744073709551616', '0777', 'ALLOW', 'KILL', 'ERRNO(1)', 'TRAP', 'USE', 'POLICY', 'DEFAULT', 'SYSCALL[',
  '#define X 1\n', '#include "x"', 'ON', 'x86_64', 'i386', 'read', 'write', 'fd', 'arg0', 'X', '((((', '))))', '!!!!',
];

const FLAG_VALUES = ['', '0', '-1', '3', 'abc', '1G', '0.5', 'inf', 'soft', 'max', '/a:/b', 'a:b:c:d', 'nobody', 'CAP_KILL', 'l', 'x',
  '65536', '1:2:3', '/proc', '/etc/passwd', '0x10', '18446744073709551616', 'o', 'e', 'r'];

/** One to four random edits: delete a run, insert a token, duplicate a slice, replace a char, truncate, rotate. */
export function mutate(text, r, tokens = CONFIG_TOKENS) {
  let s = text;
  const edits = 1 + r.int(4);
  for (let k = 0; k < edits; k++) {
    const at = r.int(s.length + 1);
    switch (r.int(6)) {
      case 0:
        s = s.slice(0, at) + s.slice(at + 1 + r.int(20));
        break;
      case 1:
        s = s.slice(0, at) + r.pick(tokens) + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + s.slice(r.int(s.length), r.int(s.length)) + s.slice(at);
        break;
      case 3:
        s = s.slice(0, at) + String.fromCharCode(r.int(128)) + s.slice(at + 1);
        break;
      case 4:
        s = s.slice(0, at);
        break;
      default:
        s = s.slice(at) + s.slice(0, at);
    }
  }
  return s;
}

/** The seed inputs: the repository's example configs and policies. */
export function corpus(repo) {
  const read = (d, re) => readdirSync(join(repo, d)).filter((f) => re.test(f)).map((f) => ({ name: f, text: readFileSync(join(repo, d, f), 'utf8') }));
  const examples = read('examples', /\.(cfg|json)$/);
  return {
    text: examples.filter((f) => f.name.endsWith('.cfg')),
    json: examples.filter((f) => f.name.endsWith('.json')),
    policy: read('policies', /\.policy$/),
  };
}

/** `jail argv...` -> LoadedConfig, the way the CLI parses flags (commander, then the recorded flags); null when commander refuses. */
function flagsToConfig(api, argv, idFiles) {
  const cmd = new api.Command('jail').exitOverride().argument('[command...]').passThroughOptions().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  const recorder = api.defineJailFlags(cmd);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof api.CommanderError) return null;
    throw e;
  }
  return api.configFromFlags(recorder.events, { cwd: '/', env: {}, idFiles });
}

/**
 * api: { JailError, parseConfigText, parseConfigJson, compilePolicy, jailFlagNames, defineJailFlags, configFromFlags,
 *        Command, CommanderError }; options: { seed, count, timeMs, slowMs, repo, idFiles }.
 * Returns counts by kind and outcome, timings, and the findings (at most 20 kept).
 */
export function fuzz(api, { seed = 1, count = 100_000, timeMs = Infinity, slowMs = 1000, repo, idFiles }) {
  const r = rng(seed);
  const seeds = corpus(repo);
  const flagNames = api.jailFlagNames().filter((n) => n !== 'config');
  const kinds = {
    text: () => {
      const src = r.pick(seeds.text);
      const input = mutate(src.text, r);
      return { input, file: true, call: () => api.parseConfigText(input, src.name, { idFiles }) };
    },
    json: () => {
      const src = r.pick(seeds.json);
      const input = mutate(src.text, r);
      return { input, file: true, call: () => api.parseConfigJson(input, src.name, { idFiles }) };
    },
    flags: () => {
      const argv = [];
      for (let k = r.int(8); k > 0; k--) argv.push(`--${r.pick(flagNames)}`, r.int(4) === 0 ? mutate(r.pick(FLAG_VALUES), r) : r.pick(FLAG_VALUES));
      argv.push('--', '/bin/true');
      return { input: JSON.stringify(argv), file: false, call: () => flagsToConfig(api, argv, idFiles) };
    },
    policy: () => {
      const src = r.pick(seeds.policy);
      const input = mutate(src.text, r, POLICY_TOKENS);
      return { input, file: true, call: () => api.compilePolicy(input, { archs: ['x86_64', 'aarch64'], file: src.name, includePaths: [] }) };
    },
  };
  const names = Object.keys(kinds);
  const stats = Object.fromEntries(names.map((k) => [k, { runs: 0, accepted: 0, refused: 0, slowestMs: 0 }]));
  const findings = [];
  let crashes = 0;
  let hangs = 0;
  let unhelpful = 0;
  const started = performance.now();
  let runs = 0;
  for (; runs < count && performance.now() - started < timeMs; runs++) {
    const kind = names[runs % names.length];
    const { input, file, call } = kinds[kind]();
    const s = stats[kind];
    s.runs++;
    const t0 = performance.now();
    let problem = null;
    try {
      if (call() === null) s.refused++; // commander refused the argv before jail saw it
      else s.accepted++;
    } catch (e) {
      if (!(e instanceof api.JailError)) {
        crashes++;
        problem = `crash: ${e?.stack ?? String(e)}`;
      } else {
        s.refused++;
        const all = e.errors.length > 0 ? e.errors : [e];
        const bad = all.find((x) => !(x instanceof api.JailError) || !x.message || (file && !(x.span && x.span.file && x.span.line > 0 && x.span.col > 0)));
        if (bad) {
          unhelpful++;
          problem = `unhelpful error: ${JSON.stringify({ message: bad.message, code: bad.code, span: bad.span })}`;
        }
      }
    }
    const ms = performance.now() - t0;
    s.slowestMs = Math.max(s.slowestMs, ms);
    if (ms > slowMs) {
      hangs++;
      problem ??= `hang: ${ms.toFixed(0)} ms`;
    }
    if (problem && findings.length < 20) findings.push({ run: runs, kind, problem, input });
  }
  return { seed, runs, ms: performance.now() - started, byKind: stats, crashes, hangs, unhelpful, findings };
}
