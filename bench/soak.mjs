#!/usr/bin/env node
// Nothing leaks, under abuse. Runs N jails of every kind — exited, timed out, OOM, seccomp-killed,
// aborted, daemonizing (setsid double fork, with and without a PID namespace), setup failures
// (missing bind source, bad execve), networked (--net internet with pasta, when installed; the
// program connects nowhere) — a share of them under a supervisor that is SIGKILLed at a
// random moment (the CLI, or run() in a child node process), then 200 jails in flight at once
// from this process; then one ordinary jail (which sweeps what dead supervisors left) and a look
// from outside: no process carrying this soak's marker, no cgroup named for one of its
// supervisors in any hierarchy, no new mount under jail's scratch directory, nothing in it, no
// pasta left, no more fds in this process than after its first jail. Seeded, bounded in count
// and time.
//
// Usage (root for the cgroup, OOM and no-PID-namespace kinds; others run without):
//   npm run build && node bench/soak.mjs [--jails 1000] [--kills 50] [--seed 1] [--in-flight 200]
// test/integration/hardening/soak.test.ts runs a few hundred through soak() below.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from './fuzz-engine.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const lib = () => require(join(REPO, 'dist/index.js'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MARK_VAR = 'JAIL_SOAK_MARK';
const CGROUP_NAME = /^(?:supervisor\.)?(\d+)\.\d+\.\d+(?:\.\d+)?$/;

/** Each kind: a config (nsjail's field names, as a file for the CLI or an object for run()), its command, the outcome it must end in. */
function kinds(probe, root, networked) {
  const chroot = { mount: [{ src: '/', dst: '/', is_bind: true }], mount_proc: true };
  const all = {
    exited: [chroot, [probe, 'none'], 'exited'],
    timeout: [{ ...chroot, time_limit: 1 }, [probe, 'sleep:30'], 'timeout'],
    seccomp: [{ ...chroot, seccomp_string: ['KILL_PROCESS { newuname } DEFAULT ALLOW'] }, ['/bin/uname'], 'seccomp-violation'],
    // The abort SIGKILLs the jail.
    abort: [chroot, [probe, 'sleep:30'], 'signaled'],
    'daemon-pidns': [{ ...chroot, time_limit: 1 }, [probe, 'daemonize:30', 'sleep:30'], 'timeout'],
    // Refused while planning (bind sources are resolved then); a bad execve fails in the child.
    'missing-bind': [{ ...chroot, mount: [...chroot.mount, { src: '/nonexistent-soak-source', dst: '/x', is_bind: true }] }, [probe, 'none'], 'refused'],
    'bad-execve': [chroot, ['/nonexistent-soak-binary'], 'setup-failed'],
  };
  // A network link (pasta) and its rules; the program connects nowhere.
  if (networked) all.networked = [{ ...chroot, net: 'internet' }, [probe, 'none'], 'exited'];
  if (root) {
    all.oom = [{ ...chroot, cgroup_mem_max: 32 << 20 }, [probe, 'alloc:256'], 'oom'];
    // Without a PID namespace only the jail's cgroup holds the daemon: root only.
    all['daemon-no-pidns'] = [{ ...chroot, clone_newpid: false, mount_proc: false, time_limit: 1 }, [probe, 'daemonize:30', 'sleep:30'], 'timeout'];
  }
  return all;
}

/** One jail through run() in this process: its outcome, 'refused' for a JailError, or 'error: ...' for anything else thrown. */
async function runHere(config, command, mark, abortAfterMs) {
  const signal = abortAfterMs === undefined ? undefined : AbortSignal.timeout(abortAfterMs);
  try {
    const r = await lib().run({ config: { ...config, envar: [`${MARK_VAR}=${mark}`] }, command, signal, env: { PATH: '/usr/bin:/bin' } });
    return r.outcome;
  } catch (e) {
    return e instanceof lib().JailError ? 'refused' : `error: ${e.stack}`;
  }
}

/** A supervisor in a process of its own (the CLI, or run() in node), SIGKILLed after `killAfterMs`. */
function runKilled(how, config, command, mark, killAfterMs, dir, supervisors) {
  const full = { ...config, envar: [`${MARK_VAR}=${mark}`] };
  let argv;
  if (how === 'cli') {
    const file = join(dir, `cfg-${supervisors.size}.json`);
    writeFileSync(file, JSON.stringify(full));
    argv = [join(REPO, 'bin/jail'), '-Q', '--config', file, '--', ...command];
  } else {
    argv = [fileURLToPath(import.meta.url), '--child', JSON.stringify({ config: full, command })];
  }
  const child = spawn(process.execPath, argv, { stdio: 'ignore' });
  supervisors.add(child.pid);
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) => child.on('exit', (code, sig) => {
    clearTimeout(timer);
    resolve(sig === 'SIGKILL' ? 'killed' : `finished (${code})`);
  }));
}

/** Pids of live processes whose environment carries the marker. */
function markedProcesses(mark) {
  const needle = `${MARK_VAR}=${mark}`;
  const out = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) [ZX] /.test(stat)) continue;
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle)) out.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

function mountinfo() {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean);
}

/** Cgroup directories, in every v1 and v2 hierarchy, named for one of `supervisors` (src/cgroup/name.ts). */
function cgroupsOf(supervisors) {
  const found = [];
  const mounts = mountinfo().map((l) => l.split(' ')).filter((f) => /^cgroup2?$/.test(f[f.indexOf('-') + 1])).map((f) => f[4]);
  let budget = 50_000;
  const walk = (dir, depth) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || --budget < 0) continue;
      const m = CGROUP_NAME.exec(e.name);
      if (m && supervisors.has(Number(m[1]))) found.push(join(dir, e.name));
      if (depth < 6) walk(join(dir, e.name), depth + 1);
    }
  };
  for (const m of mounts) walk(m, 0);
  return found;
}

/** Waits (bounded) for `check` to return an empty list; returns what is left. */
async function settle(check, ms) {
  const end = Date.now() + ms;
  let left = check();
  while (left.length > 0 && Date.now() < end) {
    await sleep(100);
    left = check();
  }
  return left;
}

const fdCount = () => readdirSync('/proc/self/fd').length;

/** Pids of live pasta processes (a networked jail's link; Debian's may run as pasta.avx2). */
function pastaProcesses() {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return /^\d+ \((pasta|passt)[^)]*\) [^ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    })
    .map(Number);
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { n: s.length, median: Math.round(at(0.5)), p90: Math.round(at(0.9)), max: Math.round(at(1)) };
}

/**
 * jails: jails of the kinds above (round robin); kills: how many of them run under a supervisor
 * SIGKILLed at a random moment; inFlight: jails started at once from this process at the end.
 * Returns { counts, wrong, timings, inFlight, leaks, ms }; `leaks` and `wrong` empty means clean.
 */
export async function soak({ jails = 1000, kills = 50, seed = 1, concurrency = 8, inFlight = 200, timeMs = 30 * 60_000 } = {}) {
  const started = Date.now();
  const root = process.geteuid() === 0;
  const r = rng(seed);
  const probe = execFileSync(join(REPO, 'test/probe/build.sh'), { encoding: 'utf8' }).trim().split('\n').pop();
  const networked = require(join(REPO, 'dist/net/link.js')).findPasta() !== null;
  const table = kinds(probe, root, networked);
  const names = Object.keys(table);
  const mark = `soak-${process.pid}-${seed}`;
  const dir = mkdtempSync(join(tmpdir(), 'jail-soak-'));
  const supervisors = new Set([process.pid]);
  const counts = {};
  const wrong = [];
  const timings = {};
  const count = (key) => (counts[key] = (counts[key] ?? 0) + 1);

  // The first jail opens what a process keeps for all of them (the addon, caches): fds after it are the baseline.
  await runHere(...table.exited.slice(0, 2), mark);
  const fdsBefore = fdCount();
  const mountsBefore = new Set(mountinfo());
  const pastasBefore = pastaProcesses();
  const host = require(join(REPO, 'dist/sandbox/host.js'));
  const scratch = host.realHost().scratchDir();

  // Which jails run under a supervisor that gets killed: `kills` of them, spread by the seed.
  const killed = new Set();
  while (killed.size < Math.min(kills, jails)) killed.add(r.int(jails));
  const jobs = Array.from({ length: jails }, (_, i) => ({ i, kind: names[i % names.length], kill: killed.has(i), delay: r.int(1500), how: r.int(2) ? 'cli' : 'library' }));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length && Date.now() - started < timeMs) {
      const job = jobs[next++];
      const [config, command, expected] = table[job.kind];
      const t0 = performance.now();
      if (job.kill) {
        count(`${job.how} SIGKILLed: ${await runKilled(job.how, config, command, mark, job.delay, dir, supervisors)}`);
        continue;
      }
      const outcome = await runHere(config, command, mark, job.kind === 'abort' ? 50 + (job.delay % 300) : undefined);
      (timings[job.kind] ??= []).push(performance.now() - t0);
      count(`${job.kind}: ${outcome}`);
      if (outcome !== expected) wrong.push(`${job.kind} #${job.i}: ${outcome}, expected ${expected}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  const t0 = performance.now();
  const burst = await Promise.all(Array.from({ length: inFlight }, () => runHere(...table.exited.slice(0, 2), mark)));
  const inFlightResult = { jails: inFlight, failures: burst.filter((o) => o !== 'exited').length, ms: Math.round(performance.now() - t0) };
  if (inFlightResult.failures > 0) wrong.push(`${inFlightResult.failures} of ${inFlight} jails in flight at once did not exit normally: ${[...new Set(burst)].join(', ')}`);

  // One ordinary jail: it sweeps the cgroups of the supervisors that were SIGKILLed.
  await runHere(...table.exited.slice(0, 2), mark);
  const leaks = [];
  for (const pid of await settle(() => markedProcesses(mark).filter((p) => p !== process.pid), 5000)) {
    leaks.push(`process ${pid} (${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim()}) still runs`);
  }
  for (const d of await settle(() => cgroupsOf(supervisors), 5000)) leaks.push(`cgroup ${d} is left`);
  for (const pid of await settle(() => pastaProcesses().filter((p) => !pastasBefore.includes(p)), 5000)) leaks.push(`pasta ${pid} still runs`);
  for (const l of mountinfo().filter((l) => !mountsBefore.has(l) && l.includes(scratch))) leaks.push(`mount left: ${l}`);
  // Jail roots are only mount points inside each jail's mount namespace: on the host these stay empty.
  for (const d of Object.values(host.scratchLayout(scratch))) {
    const left = await settle(() => readdirSync(d), 3000);
    if (left.length > 0) leaks.push(`${d} holds ${left.join(', ')}`);
  }
  const fdsAfter = await settle(() => (fdCount() > fdsBefore ? [fdCount()] : []), 3000);
  if (fdsAfter.length > 0) leaks.push(`this process has ${fdsAfter[0]} fds open, ${fdsBefore} after its first jail`);
  rmSync(dir, { recursive: true, force: true });
  return {
    seed,
    root,
    counts,
    wrong,
    timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, stats(v)])),
    inFlight: inFlightResult,
    leaks,
    ms: Date.now() - started,
  };
}

async function main() {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const child = arg('--child');
  if (child !== undefined) {
    // A library supervisor for runKilled: one run(), then exit (unless SIGKILLed first).
    const { config, command } = JSON.parse(child);
    await lib().run({ config, command, env: { PATH: '/usr/bin:/bin' } }).catch(() => undefined);
    return;
  }
  const result = await soak({ jails: Number(arg('--jails', 1000)), kills: Number(arg('--kills', 50)), seed: Number(arg('--seed', 1)), inFlight: Number(arg('--in-flight', 200)) });
  console.log(`soak: ${Object.values(result.counts).reduce((a, b) => a + b, 0)} jails in ${(result.ms / 1000).toFixed(1)} s (seed ${result.seed}${result.root ? '' : ', rootless'})`);
  for (const [k, n] of Object.entries(result.counts).sort()) console.log(`  ${String(n).padStart(5)}  ${k}`);
  console.log('  run() time per kind, ms (median / p90 / max):');
  for (const [k, s] of Object.entries(result.timings)) console.log(`    ${k.padEnd(16)} ${s.median} / ${s.p90} / ${s.max}  (n=${s.n})`);
  console.log(`  ${result.inFlight.jails} jails in flight at once: ${result.inFlight.failures} failures, ${result.inFlight.ms} ms`);
  for (const w of result.wrong) console.log(`  WRONG: ${w}`);
  for (const l of result.leaks) console.log(`  LEAK: ${l}`);
  console.log(result.leaks.length + result.wrong.length === 0 ? 'no leaks' : `${result.leaks.length} leaks, ${result.wrong.length} wrong outcomes`);
  process.exitCode = result.leaks.length + result.wrong.length > 0 ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
