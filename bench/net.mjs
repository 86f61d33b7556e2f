#!/usr/bin/env node
// What jail's networking costs, measured in a throw-away lab, against the targets:
//   1. launch: `jail -Q --chroot / -- /bin/true` with and without `--net internet` (and with
//      `--allow NAME`, which adds the proxy, and `--publish`), interleaved; target <= +10 ms
//   2. TCP connect to a world host: N sequential connects from a jail (`--net internet`) vs the
//      same from the lab namespace without a jail; target <= +1 ms per connect; and through the
//      allow-list proxy (`--allow NAME`, one HTTP CONNECT per connection) on its own line
//   3. bulk TCP download (one connection, ~3 s, 1 MiB recv_into): jail vs lab-direct, and through
//      the proxy (HTTP CONNECT); target >= 1 Gbit/s
//   4. supervisor memory per networked jail: K concurrent jails running sleep, RSS and PSS of the
//      supervising processes (the CLI's node and its pasta) for --net internet vs --net none,
//      and the same through run() in one node process; target <= 10 MiB per jail
//   5. 50 concurrent networked jails, each downloading 64 MiB: all succeed, total time, and then
//      nothing left behind (no pasta, no jail-link-* dir, no jail process, netns list unchanged)
// plus where a launch's extra time goes: pasta alone from spawn to its pid file (direct, and
// under setpriv as src/net/link.ts runs it, seen by inotify and by 2 ms polling as link.ts does).
//
// The lab: two network namespaces made for this run (jb<pid>l where jail runs, jb<pid>w with the
// hosts 198.51.100.10 and 203.0.113.20 on its loopback), a veth pair created inside the lab
// namespace with its peer moved straight into the world one, and one python3 server in the world.
// Nothing is added to the host's own namespace; everything (namespaces, /etc/netns/<lab>, the
// temp dir, every process in either namespace) is removed on exit, on failure and on SIGINT/TERM.
// The measurements run in a child of this script started inside the lab (`ip netns exec`), so
// every jail and its pasta see only the lab's world.
//
// Usage: npm run build && node bench/net.mjs [--runs 40] [--connects 500] [--bulk-s 3] [--bulk-runs 3]
//          [--jails 10] [--concurrent 50] [--each-mib 64]   (root: it creates network namespaces)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const JAIL = join(ROOT, 'bin/jail');
const PY = '/usr/bin/python3';
// Debian's pasta re-executes itself as this when the CPU has AVX2 (same arguments, a second execve).
const PASTA_AVX2 = '/usr/bin/pasta.avx2';
const IP = '/usr/sbin/ip';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const OPT = {
  runs: arg('--runs', 40),
  connects: arg('--connects', 500),
  bulkSeconds: arg('--bulk-s', 3),
  bulkRuns: arg('--bulk-runs', 3),
  jails: arg('--jails', 10),
  concurrent: arg('--concurrent', 50),
  eachMib: arg('--each-mib', 64),
};

const WORLD_HOST = '198.51.100.10';
const OTHER_HOST = '203.0.113.20';
const PROXY_NAME = 'bench.test';
const CONNECT_PORT = 9000; // holds a connection until the client closes it
const BULK_PORT = 9001; // "<bytes>\n" -> that many bytes (0: until the client closes), then close
const PUBLISH_PORT = 18080;

// ---------------------------------------------------------------- the world's server (python3)
const SERVER_PY = String.raw`
import socket, sys, threading
BUF = memoryview(bytearray(4 << 20))
def listen(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(4096)
    return s
def hold(c):
    try:
        while c.recv(65536): pass
    except OSError: pass
    finally: c.close()
def bulk(c):
    try:
        line = b''
        while not line.endswith(b'\n') and len(line) < 64:
            b = c.recv(64)
            if not b: return
            line += b
        n = int(line)
        if n == 0:
            while True: c.sendall(BUF)
        while n > 0:
            k = min(n, len(BUF)); c.sendall(BUF[:k]); n -= k
    except (OSError, ValueError): pass
    finally: c.close()
def serve(s, fn):
    while True:
        c, _ = s.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()
for addr in sys.argv[1].split(','):
    threading.Thread(target=serve, args=(listen(addr, ${CONNECT_PORT}), hold), daemon=True).start()
    threading.Thread(target=serve, args=(listen(addr, ${BULK_PORT}), bulk), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
`;

// ------------------------------------------------ the client (python3 -c, in a jail or the lab)
// client connect HOST PORT N             -> JSON list of microseconds per connect()
// client connect-proxy PHOST PPORT NAME PORT N -> the same for connect + HTTP CONNECT + 200
// client bulk HOST PORT SECONDS|-BYTES [PHOST PPORT NAME] -> {"bytes":..,"s":..}
// Its last argument is a marker (unused by the code) so its processes can be found afterwards.
const CLIENT_PY = String.raw`
import json, socket, sys, time
def via_proxy(ph, pp, name, port):
    s = socket.create_connection((ph, int(pp)))
    s.sendall(('CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n' % (name, port, name, port)).encode())
    head = b''
    while b'\r\n\r\n' not in head:
        b = s.recv(4096)
        if not b: raise SystemExit('proxy closed: %r' % head)
        head += b
    if not head.startswith(b'HTTP/1.1 200') and not head.startswith(b'HTTP/1.0 200'): raise SystemExit('proxy said %r' % head[:200])
    return s, head.split(b'\r\n\r\n', 1)[1]
a = sys.argv[1:]
if a[0] == 'connect':
    host, port, n = a[1], int(a[2]), int(a[3]); out = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t = time.perf_counter_ns(); s.connect((host, port)); out.append((time.perf_counter_ns() - t) / 1000); s.close()
    print(json.dumps(out))
elif a[0] == 'connect-proxy':
    ph, pp, name, port, n = a[1], a[2], a[3], int(a[4]), int(a[5]); out = []
    for _ in range(n):
        t = time.perf_counter_ns(); s, _ = via_proxy(ph, pp, name, port); out.append((time.perf_counter_ns() - t) / 1000); s.close()
    print(json.dumps(out))
elif a[0] == 'bulk':
    host, port, amount = a[1], int(a[2]), int(a[3])
    if len(a) > 5: s, rest = via_proxy(a[4], a[5], a[6], port)
    else: s, rest = socket.create_connection((host, port)), b''
    buf = bytearray(1 << 20); mv = memoryview(buf); got = len(rest)
    want = -amount if amount < 0 else 0
    s.sendall(b'%d\n' % want)
    t = time.perf_counter(); end = t + amount if amount > 0 else None
    while True:
        k = s.recv_into(mv)
        if not k: break
        got += k
        if end is not None and time.perf_counter() >= end: break
    dt = time.perf_counter() - t
    s.close()
    print(json.dumps({'bytes': got, 's': dt}))
`;

// ---------------------------------------------------------------- small helpers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sh = (argv, timeout = 10_000) => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p10: at(0.1), p90: at(0.9), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
};
const median = (xs) => stats(xs).p50;

function pidState(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}
/** pasta's process name: pasta, or passt.avx2 once it re-executes itself for the CPU's AVX2. */
const isPasta = (comm) => /^(pasta|passt)(\.avx2)?$/.test(comm);
const alive = (pid) => {
  const s = pidState(pid);
  return s !== null && s !== 'Z' && s !== 'X';
};

/** Every process: pid, ppid, comm, cmdline, netns inode (a snapshot of /proc). */
function processes() {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const st = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = st.lastIndexOf(')');
      const comm = st.slice(st.indexOf('(') + 1, close);
      const rest = st.slice(close + 2).split(' ');
      let net = '';
      try {
        net = fs.readlinkSync(`/proc/${name}/ns/net`);
      } catch {
        // a kernel thread, or gone
      }
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      out.push({ pid: Number(name), ppid: Number(rest[1]), state: rest[0], comm, cmdline, net });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** RSS and PSS of a process in KiB (smaps_rollup), or null when it is gone. */
function memoryOf(pid) {
  try {
    const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0);
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch {
    return null;
  }
}

// ====================================================================================== outer
async function outer() {
  if (process.geteuid?.() !== 0) {
    console.error('bench/net.mjs must run as root: it creates network namespaces (the lab) and runs jail with pasta in them');
    process.exit(1);
  }
  for (const tool of [IP, PY, '/usr/bin/pasta', '/usr/bin/setpriv', '/usr/bin/unshare']) {
    if (!fs.existsSync(tool)) {
      console.error(`bench/net.mjs needs ${tool} (apt-get install iproute2 python3 passt util-linux)`);
      process.exit(1);
    }
  }
  if (!fs.existsSync(join(ROOT, 'dist/index.js'))) {
    console.error('run `npm run build` first');
    process.exit(1);
  }

  const id = `jb${process.pid}`;
  const labNs = `${id}l`;
  const worldNs = `${id}w`;
  const vethLab = `${id}a`;
  const vethWorld = `${id}b`;
  const etcNetns = `/etc/netns/${labNs}`;
  const etcNetnsExisted = fs.existsSync('/etc/netns');
  const dir = fs.mkdtempSync(join(os.tmpdir(), `jail-netbench-${id}-`));
  fs.chmodSync(dir, 0o755);
  const children = new Set();
  const linkDirsToRemove = new Set();
  let cleaned = false;

  const killNs = (ns) => {
    for (let round = 0; round < 50; round++) {
      let pids = [];
      try {
        pids = sh([IP, 'netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return; // no such namespace
      }
      pids = pids.filter((p) => p !== process.pid && alive(p));
      if (pids.length === 0) return;

      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  };
  /**
   * A jail CLI killed by cleanup cannot remove its pasta's jail-link-* dir: find them first (the
   * -P of every pasta in the lab namespace), before anything is killed.
   */
  const noteLinkDirs = () => {
    let pids = [];
    try {
      pids = sh([IP, 'netns', 'pids', labNs]).split(/\s+/).filter(Boolean);
    } catch {
      return;
    }
    for (const p of pids) {
      try {
        const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        const file = argv[argv.indexOf('-P') + 1];
        if (argv.includes('-P') && /\/jail-link-[^/]+\/pasta\.pid$/.test(file)) linkDirsToRemove.add(dirname(file));
      } catch {
        // gone
      }
    }
  };
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    noteLinkDirs();
    for (const c of children) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const ns of [labNs, worldNs]) killNs(ns);
    for (const ns of [labNs, worldNs]) {
      try {
        sh([IP, 'netns', 'del', ns]);
      } catch {
        // never made, or gone
      }
    }
    for (const d of linkDirsToRemove) fs.rmSync(d, { recursive: true, force: true });
    fs.rmSync(etcNetns, { recursive: true, force: true });
    if (!etcNetnsExisted) {
      try {
        fs.rmdirSync('/etc/netns');
      } catch {
        // not empty (someone else's), or absent
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      console.error(`\n${sig}: removing the lab`);
      cleanup();
      process.exit(130);
    });
  }

  const spawnIn = (ns, argv, opts = {}) => {
    const c = spawn(IP, ['netns', 'exec', ns, ...argv], { detached: true, env: { PATH: SYSTEM_PATH, HOME: '/', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}) }, cwd: '/', ...opts });
    children.add(c);
    c.on('exit', () => children.delete(c));
    return c;
  };

  let status = 1;
  try {
    sh([IP, 'netns', 'add', labNs]);
    sh([IP, 'netns', 'add', worldNs]);
    for (const ns of [labNs, worldNs]) sh([IP, '-n', ns, 'link', 'set', 'lo', 'up']);
    sh([IP, '-n', labNs, 'link', 'add', vethLab, 'type', 'veth', 'peer', 'name', vethWorld, 'netns', worldNs]);
    sh([IP, '-n', worldNs, 'addr', 'add', '198.51.100.1/24', 'dev', vethWorld]);
    sh([IP, '-n', worldNs, 'link', 'set', vethWorld, 'up']);
    for (const a of [WORLD_HOST, OTHER_HOST]) sh([IP, '-n', worldNs, 'addr', 'add', `${a}/32`, 'dev', 'lo']);
    sh([IP, '-n', labNs, 'addr', 'add', '198.51.100.2/24', 'dev', vethLab]);
    sh([IP, '-n', labNs, 'link', 'set', vethLab, 'up']);
    sh([IP, '-n', labNs, 'route', 'add', 'default', 'via', '198.51.100.1']);
    // The proxy (in the jail's supervisor, so in the lab) resolves the allowed name: `ip netns
    // exec` binds this over /etc/hosts for what it runs, in its own mount namespace only.
    fs.mkdirSync(etcNetns, { recursive: true, mode: 0o755 });
    fs.writeFileSync(join(etcNetns, 'hosts'), `127.0.0.1 localhost\n${WORLD_HOST} ${PROXY_NAME}\n`, { mode: 0o644 });

    const server = spawnIn(worldNs, [PY, '-c', SERVER_PY, `${WORLD_HOST},${OTHER_HOST}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error('the world server was not ready in 10 s')), 10_000);
      server.stdout.on('data', (d) => {
        out += d;
        if (/^ready$/m.test(out)) {
          clearTimeout(t);
          resolve();
        }
      });
      server.on('exit', (code) => reject(new Error(`the world server exited (${code})`)));
    });

    const state = { id, labNs, worldNs, dir, opt: OPT };
    const worker = spawnIn(labNs, [process.execPath, SELF, '--inside', JSON.stringify(state)], { stdio: 'inherit' });
    const deadline = setTimeout(() => {
      console.error('bench/net.mjs: the measurements took over 20 minutes; stopping');
      try {
        process.kill(-worker.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, 20 * 60_000);
    status = await new Promise((resolve) => worker.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
    clearTimeout(deadline);
  } catch (e) {
    console.error(`bench/net.mjs: ${e.stack ?? e}`);
    status = 1;
  } finally {
    cleanup();
  }
  const left = sh([IP, 'netns', 'list']).split('\n').filter((l) => l.startsWith(labNs) || l.startsWith(worldNs));
  if (left.length || fs.existsSync(etcNetns) || fs.existsSync(dir)) {
    console.error(`bench/net.mjs: lab not fully removed: ${left.join(', ')} ${etcNetns} ${dir}`);
    status = 1;
  }
  process.exit(status);
}

// ===================================================================================== worker
// Runs inside the lab namespace (ip netns exec), so the jail CLI, its pasta and the proxy all live
// there; /etc/hosts is the lab's (bench.test -> the world host).
async function inside(state) {
  const { id, dir, opt } = state;
  const marker = `jailnetbench-${id}`;
  const env = { PATH: SYSTEM_PATH, HOME: '/', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}) };
  const myNet = fs.readlinkSync('/proc/self/ns/net');
  const jailArgv = (flags, command) => [process.execPath, JAIL, '-Q', '--chroot', '/', '-t', '120', ...flags, '--', ...command];
  const client = (...a) => [PY, '-c', CLIENT_PY, ...a.map(String), marker];
  const results = {};
  const lines = [];
  const note = (s) => process.stderr.write(`${s}\n`);

  const runSync = (argv, timeout = 180_000, extraEnv = {}) => {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...env, ...extraEnv }, timeout, maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`${argv.slice(0, 12).join(' ')} ...: exit ${r.status ?? r.signal}\n${(r.stderr || '').slice(0, 2000)}`);
    return r.stdout;
  };
  const runAsync = (argv, timeout = 180_000) =>
    new Promise((resolve) => {
      const c = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      const t = setTimeout(() => c.kill('SIGKILL'), timeout);
      c.on('close', (code, signal) => {
        clearTimeout(t);
        resolve({ code, signal, out, err });
      });
    });
  const lastJson = (text) => JSON.parse(text.trim().split('\n').pop());

  // ------------------------------------------------------------------ 1. launch
  note(`1/5 launch: ${opt.runs} interleaved runs of each variant`);
  const variants = [
    ['jail -Q --chroot / -- /bin/true (--net none)', []],
    ['  + --net internet', ['--net', 'internet']],
    [`  + --net internet --allow ${PROXY_NAME} (proxy)`, ['--net', 'internet', '--allow', PROXY_NAME]],
    [`  + --net internet --publish ${PUBLISH_PORT}:8080`, ['--net', 'internet', '--publish', `${PUBLISH_PORT}:8080`]],
  ];
  // The same with $JAIL_PASTA at pasta.avx2, which skips pasta's re-execution of itself.
  if (fs.existsSync(PASTA_AVX2)) variants.push(['  + --net internet, JAIL_PASTA=pasta.avx2', ['--net', 'internet'], { JAIL_PASTA: PASTA_AVX2 }]);
  const launch = variants.map(() => []);
  for (let i = 0; i < opt.runs + 3; i++) {
    variants.forEach(([, flags, extraEnv], v) => {
      const t = process.hrtime.bigint();
      runSync(jailArgv(flags, ['/bin/true']), 30_000, extraEnv);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (i >= 3) launch[v].push(ms);
    });
  }
  results.launch = variants.map(([name], v) => ({ name, ...stats(launch[v]) }));
  const base = results.launch[0];

  // Where the extra time goes: pasta alone, against a namespace made here, with the arguments
  // jail gives it (captured through a logging JAIL_PASTA wrapper).
  note('    pasta alone: capturing its arguments and timing it');
  const wrapper = join(dir, 'pasta-argv.sh');
  const argvLog = join(dir, 'pasta-argv.log');
  fs.writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$@" > ${argvLog}\nexec /usr/bin/pasta "$@"\n`, { mode: 0o755 });
  spawnSync(jailArgv(['--net', 'internet'], ['/bin/true'])[0], jailArgv(['--net', 'internet'], ['/bin/true']).slice(1), { env: { ...env, JAIL_PASTA: wrapper }, stdio: 'ignore', timeout: 30_000 });
  const captured = fs.readFileSync(argvLog, 'utf8').trim().split('\n');
  const pIdx = captured.indexOf('-P');
  const pastaBase = captured.slice(0, pIdx); // without -P FILE PID
  results.pastaArgs = pastaBase.join(' ');
  const holder = spawn('/usr/bin/unshare', ['--user', '--map-root-user', '--net', '/bin/sleep', '600'], { stdio: 'ignore' });
  await sleep(200);
  // unshare execs sleep in the new namespaces: the holder's pid is the target.
  const pastaTimes = { direct: [], avx2: [], setpriv: [], setprivPoll2: [] };
  const pastaKill = [];
  const pidFile = join(dir, 'pasta.pid');
  const onePasta = async (how) => {
    fs.rmSync(pidFile, { force: true });
    const args = [...pastaBase, '-P', pidFile, String(holder.pid)];
    const watcher = how === 'setprivPoll2' ? null : fs.watch(dir);
    const t = process.hrtime.bigint();
    const child = how === 'direct' || how === 'avx2' ? spawn(how === 'avx2' ? PASTA_AVX2 : '/usr/bin/pasta', args, { stdio: 'ignore' }) : spawn('setpriv', ['--pdeathsig', 'KILL', '--', '/usr/bin/pasta', ...args], { stdio: 'ignore' });
    const ready = () => {
      try {
        return fs.readFileSync(pidFile, 'utf8').trim() !== '';
      } catch {
        return false;
      }
    };
    const limit = Date.now() + 5000;
    let ms = null;
    if (watcher) {
      // inotify wakes this at once when pasta writes the file; the interval is only a fallback.
      await new Promise((resolve) => {
        const check = () => {
          if (ms === null && ready()) ms = Number(process.hrtime.bigint() - t) / 1e6;
          if (ms !== null || Date.now() > limit) {
            clearInterval(iv);
            resolve();
          }
        };
        const iv = setInterval(check, 50);
        watcher.on('change', check);
        check();
      });
      watcher.close();
    } else {
      while (Date.now() < limit) {
        if (ready()) {
          ms = Number(process.hrtime.bigint() - t) / 1e6;
          break;
        }
        await sleep(2);
      }
    }
    const k = process.hrtime.bigint();
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
    pastaKill.push(Number(process.hrtime.bigint() - k) / 1e6);
    if (ms === null) throw new Error(`pasta (${how}) did not write its pid file in 5 s`);
    return ms;
  };
  for (let i = 0; i < 23; i++) {
    for (const how of Object.keys(pastaTimes)) {
      if (how === 'avx2' && !fs.existsSync(PASTA_AVX2)) continue;
      const ms = await onePasta(how);
      if (i >= 3) pastaTimes[how].push(ms);
    }
  }
  holder.kill('SIGKILL');
  results.pasta = Object.fromEntries(Object.entries(pastaTimes).filter(([, v]) => v.length).map(([k, v]) => [k, stats(v)]));
  results.pastaKill = stats(pastaKill.slice(3 * Object.keys(results.pasta).length));

  // ------------------------------------------------------------------ 2. connect
  note(`2/5 connect: ${opt.connects} sequential TCP connects, lab-direct vs jail vs proxy`);
  const connect = { direct: [], jail: [], proxy: [] };
  // Interleaved in 2 rounds, each a fresh process.
  for (let round = 0; round < 2; round++) {
    const n = Math.ceil(opt.connects / 2);
    connect.direct.push(...lastJson(runSync(client('connect', WORLD_HOST, CONNECT_PORT, n))));
    connect.jail.push(...lastJson(runSync(jailArgv(['--net', 'internet'], client('connect', WORLD_HOST, CONNECT_PORT, n)))));
    connect.proxy.push(...lastJson(runSync(jailArgv(['--allow', PROXY_NAME], client('connect-proxy', '127.0.0.1', 3128, PROXY_NAME, CONNECT_PORT, n)))));
  }
  results.connect = Object.fromEntries(Object.entries(connect).map(([k, v]) => [k, stats(v.map((us) => us / 1000))]));

  // ------------------------------------------------------------------ 3. bulk
  note(`3/5 bulk: ${opt.bulkRuns} x ${opt.bulkSeconds} s downloads each, lab-direct vs jail vs proxy`);
  const bulk = { direct: [], jail: [], proxy: [] };
  const gbps = (r) => (r.bytes * 8) / r.s / 1e9;
  for (let i = 0; i < opt.bulkRuns; i++) {
    bulk.direct.push(gbps(lastJson(runSync(client('bulk', WORLD_HOST, BULK_PORT, opt.bulkSeconds)))));
    bulk.jail.push(gbps(lastJson(runSync(jailArgv(['--net', 'internet'], client('bulk', WORLD_HOST, BULK_PORT, opt.bulkSeconds))))));
    bulk.proxy.push(gbps(lastJson(runSync(jailArgv(['--allow', PROXY_NAME], client('bulk', WORLD_HOST, BULK_PORT, opt.bulkSeconds, '127.0.0.1', 3128, PROXY_NAME))))));
  }
  results.bulk = Object.fromEntries(Object.entries(bulk).map(([k, v]) => [k, { median: median(v), min: Math.min(...v), max: Math.max(...v), runs: v }]));

  // ------------------------------------------------------------------ 4. memory
  note(`4/5 memory: ${opt.jails} concurrent jails running sleep, --net none vs --net internet (CLI, then run())`);
  const descendants = (procs, pid) => {
    const out = [];
    const kids = (p) => procs.filter((q) => q.ppid === p);
    const walk = (p) => {
      for (const k of kids(p)) {
        out.push(k);
        walk(k.pid);
      }
    };
    walk(pid);
    return out;
  };
  const cliMemory = async (flags) => {
    const clis = Array.from({ length: opt.jails }, () => spawn(process.execPath, [JAIL, '-Q', '--chroot', '/', '-t', '60', ...flags, '--', '/bin/sh', '-c', 'sleep 60; exit 0', marker], { env, stdio: 'ignore' }));
    try {
      const limit = Date.now() + 30_000;
      for (;;) {
        const procs = processes();
        const up = clis.filter((c) => descendants(procs, c.pid).some((p) => p.comm === 'sleep')).length;
        if (up === clis.length) break;
        if (Date.now() > limit) throw new Error(`only ${up} of ${clis.length} jails (${flags.join(' ')}) were running after 30 s`);
        await sleep(50);
      }
      await sleep(1000); // let start-up garbage settle
      const procs = processes();
      const sum = { cli: { rss: 0, pss: 0 }, pasta: { rss: 0, pss: 0 }, pastaCount: 0, comms: new Set() };
      for (const c of clis) {
        const m = memoryOf(c.pid);
        sum.cli.rss += m.rss;
        sum.cli.pss += m.pss;
        for (const d of descendants(procs, c.pid)) {
          if (d.ppid === c.pid) sum.comms.add(d.comm);
          if (!isPasta(d.comm)) continue;
          const pm = memoryOf(d.pid);
          sum.pasta.rss += pm.rss;
          sum.pasta.pss += pm.pss;
          sum.pastaCount += 1;
        }
      }
      sum.comms = [...sum.comms];
      return sum;
    } finally {
      for (const c of clis) c.kill('SIGTERM');
      const limit = Date.now() + 10_000;
      while (clis.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < limit) await sleep(20);
      for (const c of clis) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  };
  const memNone = await cliMemory([]);
  const memNet = await cliMemory(['--net', 'internet']);
  results.memoryCli = { none: memNone, internet: memNet, jails: opt.jails };

  // The library: run() in this process, K at once; this process's RSS and its pasta children.
  const lib = createRequire(import.meta.url)(join(ROOT, 'dist/index.js'));
  const config = { mount: [{ src: '/', dst: '/', is_bind: true }], mount_proc: true };
  const libRound = async (net) => {
    const ac = new AbortController();
    let started = 0;
    const runs = Array.from({ length: opt.jails }, () =>
      lib.run({ command: ['/bin/sh', '-c', 'sleep 60; exit 0', marker], config, net, env, signal: ac.signal, stdout: 'ignore', stderr: 'ignore', onStart: () => (started += 1) }),
    );
    try {
      const limit = Date.now() + 30_000;
      while (started < opt.jails && Date.now() < limit) await sleep(20);
      if (started < opt.jails) throw new Error(`run(): only ${started} of ${opt.jails} jails (net ${net}) started in 30 s`);
      await sleep(500);
      globalThis.gc?.();
      const self = memoryOf(process.pid);
      const pasta = { rss: 0, pss: 0, count: 0 };
      for (const p of processes().filter((q) => q.ppid === process.pid && isPasta(q.comm))) {
        const m = memoryOf(p.pid);
        pasta.rss += m.rss;
        pasta.pss += m.pss;
        pasta.count += 1;
      }
      return { self, heapUsed: process.memoryUsage().heapUsed / 1024, pasta };
    } finally {
      ac.abort();
      await Promise.allSettled(runs);
    }
  };
  // Warm both paths once so the code is loaded before the first measurement.
  await libRound('none');
  await libRound('internet');
  const libNone = await libRound('none');
  const libNet = await libRound('internet');
  results.memoryLib = { none: libNone, internet: libNet, jails: opt.jails };

  // ------------------------------------------------------------------ 5. concurrent downloads
  note(`5/5 ${opt.concurrent} concurrent --net internet jails, each downloading ${opt.eachMib} MiB`);
  const tmp = os.tmpdir();
  const linkDirs = () => new Set(fs.readdirSync(tmp).filter((n) => n.startsWith('jail-link-')));
  const netnsList = () => sh([IP, 'netns', 'list']).split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean).sort().join(' ');
  const netnsCount = () => new Set(processes().map((p) => p.net).filter(Boolean)).size;
  const before = { linkDirs: linkDirs(), netns: netnsList(), netnsInUse: netnsCount() };
  const bytes = opt.eachMib * 2 ** 20;
  const t0 = process.hrtime.bigint();
  const all = await Promise.all(Array.from({ length: opt.concurrent }, () => runAsync(jailArgv(['--net', 'internet'], client('bulk', WORLD_HOST, BULK_PORT, -bytes)), 300_000)));
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const ok = all.filter((r) => {
    try {
      return r.code === 0 && lastJson(r.out).bytes === bytes;
    } catch {
      return false;
    }
  });
  const failures = all.filter((r) => !ok.includes(r)).slice(0, 3).map((r) => `exit ${r.code ?? r.signal}: ${r.err.slice(0, 300)}`);
  // Let the last exits finish (bounded), then look.
  const leftover = () => {
    const procs = processes();
    return {
      pasta: procs.filter((p) => isPasta(p.comm) && (p.net === myNet || p.cmdline.includes(dir))).map((p) => p.pid),
      jailProcesses: procs.filter((p) => p.cmdline.includes(marker) && p.pid !== process.pid).map((p) => `${p.pid} ${p.comm}`),
      inLabNetns: procs.filter((p) => p.net === myNet && p.pid !== process.pid && p.state !== 'Z').map((p) => `${p.pid} ${p.comm}`),
      linkDirs: [...linkDirs()].filter((n) => !before.linkDirs.has(n)),
    };
  };
  let left = leftover();
  for (let i = 0; i < 40 && (left.pasta.length || left.jailProcesses.length || left.inLabNetns.length || left.linkDirs.length); i++) {
    await sleep(50);
    left = leftover();
  }
  const after = { netns: netnsList(), netnsInUse: netnsCount() };
  results.concurrent = {
    jails: opt.concurrent,
    mibEach: opt.eachMib,
    succeeded: ok.length,
    totalMs,
    aggregateGbps: (ok.length * bytes * 8) / (totalMs / 1000) / 1e9,
    failures,
    checks: {
      'all succeeded': ok.length === opt.concurrent,
      'no pasta left': left.pasta.length === 0,
      'no jail-link-* dir left in TMPDIR': left.linkDirs.length === 0,
      'no jail process left': left.jailProcesses.length === 0,
      'nothing else left in the lab netns': left.inLabNetns.length === 0,
      'ip netns list unchanged': before.netns === after.netns,
    },
    left,
    netnsInUse: { before: before.netnsInUse, after: after.netnsInUse },
  };

  // ------------------------------------------------------------------ report
  const f = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(d));
  const verdict = (good) => (good ? 'ok' : 'MISSED');
  lines.push(`jail network benchmark (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? '?'}, ${process.platform} ${os.release()}, node ${process.version})`);
  lines.push('');
  lines.push(`1. launch, ${opt.runs} interleaved runs each (ms)           p50      p10      p90    +p50 vs none`);
  for (const r of results.launch) lines.push(`   ${r.name.padEnd(52)} ${f(r.p50).padStart(7)}  ${f(r.p10).padStart(7)}  ${f(r.p90).padStart(7)}  ${r === base ? '' : f(r.p50 - base.p50).padStart(7)}`);
  const netLaunch = results.launch[1].p50 - base.p50;
  lines.push(`   --net internet adds ${f(netLaunch)} ms at p50, ${f(results.launch[1].p90 - base.p90)} ms at p90 (target <= 10 ms): ${verdict(netLaunch <= 10)}`);
  lines.push(`   pasta alone, spawn -> pid file written (ms; 20 runs)   p50      p10      p90`);
  for (const [k, label] of [['direct', 'pasta, seen by inotify'], ['avx2', 'passt.avx2 as pasta (no re-exec), inotify'], ['setpriv', 'setpriv --pdeathsig -> pasta, inotify'], ['setprivPoll2', 'setpriv -> pasta, 2 ms polling (link.ts)']]) {
    const s = results.pasta[k];
    if (!s) continue;
    lines.push(`   ${label.padEnd(52)} ${f(s.p50).padStart(7)}  ${f(s.p10).padStart(7)}  ${f(s.p90).padStart(7)}`);
  }
  lines.push(`   ${'pasta: SIGKILL -> exited (reaped); the CLI waits for it'.padEnd(52)} ${f(results.pastaKill.p50).padStart(7)}  ${f(results.pastaKill.p10).padStart(7)}  ${f(results.pastaKill.p90).padStart(7)}`);
  lines.push('');
  lines.push(`2. TCP connect, ${opt.connects} sequential (ms per connect)      p50      p10      p90     mean   +p50 vs lab`);
  const c = results.connect;
  for (const [k, label] of [['direct', 'lab netns, no jail'], ['jail', 'jail --net internet'], ['proxy', `jail --allow ${PROXY_NAME}: connect + HTTP CONNECT`]]) {
    const s = c[k];
    lines.push(`   ${label.padEnd(52)} ${f(s.p50, 3).padStart(7)}  ${f(s.p10, 3).padStart(7)}  ${f(s.p90, 3).padStart(7)}  ${f(s.mean, 3).padStart(7)}  ${k === 'direct' ? '' : f(s.p50 - c.direct.p50, 3).padStart(7)}`);
  }
  const connectDiff = c.jail.p50 - c.direct.p50;
  lines.push(`   the link adds ${f(connectDiff, 3)} ms per connect at p50, ${f(c.jail.p90 - c.direct.p90, 3)} ms at p90 (target <= 1 ms): ${verdict(connectDiff <= 1)}`);
  lines.push('');
  lines.push(`3. bulk TCP download, ${opt.bulkRuns} x ${opt.bulkSeconds} s each (Gbit/s)          median    min      max`);
  const b = results.bulk;
  for (const [k, label] of [['direct', 'lab netns, no jail'], ['jail', 'jail --net internet'], ['proxy', `jail --allow ${PROXY_NAME} (HTTP CONNECT)`]]) {
    lines.push(`   ${label.padEnd(52)} ${f(b[k].median).padStart(7)}  ${f(b[k].min).padStart(7)}  ${f(b[k].max).padStart(7)}`);
  }
  lines.push(`   jail: ${f(b.jail.median)} Gbit/s (target >= 1): ${verdict(b.jail.median >= 1)}; proxy: ${f(b.proxy.median)} Gbit/s: ${verdict(b.proxy.median >= 1)}`);
  lines.push('');
  const mib = (kb) => kb / 1024;
  const K = opt.jails;
  lines.push(`4. supervisor memory, ${K} concurrent jails running sleep (MiB per jail)     RSS      PSS`);
  lines.push(`   CLI --net none: node                                  ${f(mib(memNone.cli.rss / K)).padStart(7)}  ${f(mib(memNone.cli.pss / K)).padStart(7)}`);
  lines.push(`   CLI --net internet: node                              ${f(mib(memNet.cli.rss / K)).padStart(7)}  ${f(mib(memNet.cli.pss / K)).padStart(7)}`);
  lines.push(`   CLI --net internet: pasta (${memNet.pastaCount} running)                   ${f(mib(memNet.pasta.rss / K)).padStart(7)}  ${f(mib(memNet.pasta.pss / K)).padStart(7)}`);
  const cliIncRss = mib((memNet.cli.rss + memNet.pasta.rss - memNone.cli.rss) / K);
  const cliIncPss = mib((memNet.cli.pss + memNet.pasta.pss - memNone.cli.pss) / K);
  lines.push(`   increment per networked jail (node + pasta - none)     ${f(cliIncRss).padStart(7)}  ${f(cliIncPss).padStart(7)}`);
  const libInc = (k) => mib((libNet.self[k] - libNone.self[k]) / K);
  lines.push(`   run() x${K} in one process: process delta per jail       ${f(libInc('rss')).padStart(7)}  ${f(libInc('pss')).padStart(7)}   (heap ${f(mib(libNone.heapUsed), 1)} -> ${f(mib(libNet.heapUsed), 1)} MiB)`);
  lines.push(`   run() x${K}: pasta per jail (${libNet.pasta.count} running)                    ${f(mib(libNet.pasta.rss / K)).padStart(7)}  ${f(mib(libNet.pasta.pss / K)).padStart(7)}`);
  const libIncPss = libInc('pss') + mib(libNet.pasta.pss / K);
  lines.push(`   run(): increment per networked jail (delta + pasta)    ${f(libInc('rss') + mib(libNet.pasta.rss / K)).padStart(7)}  ${f(libIncPss).padStart(7)}`);
  lines.push(`   increment per networked jail (PSS, CLI) ${f(cliIncPss)} MiB, (PSS, run()) ${f(libIncPss)} MiB (target <= 10 MiB): ${verdict(cliIncPss <= 10 && libIncPss <= 10)}`);
  lines.push('');
  const cc = results.concurrent;
  lines.push(`5. ${cc.jails} concurrent --net internet jails x ${cc.mibEach} MiB: ${cc.succeeded}/${cc.jails} succeeded in ${f(cc.totalMs / 1000)} s (${f(cc.aggregateGbps)} Gbit/s aggregate)`);
  for (const [k, v] of Object.entries(cc.checks)) lines.push(`   ${(v ? 'pass' : 'FAIL').padEnd(5)} ${k}`);
  lines.push(`   (net namespaces in use by any process: ${cc.netnsInUse.before} before, ${cc.netnsInUse.after} after; other users of the machine count too)`);
  if (cc.failures.length) lines.push(`   failures: ${cc.failures.join(' | ')}`);
  if (!Object.values(cc.checks).every(Boolean)) lines.push(`   left: ${JSON.stringify(cc.left)}`);
  lines.push('');
  lines.push(`pasta's arguments (from jail --net internet): ${results.pastaArgs}`);
  console.log(lines.join('\n'));
  console.log(`\n${JSON.stringify({ options: opt, ...results })}`);
  return Object.values(cc.checks).every(Boolean) ? 0 : 1;
}

if (process.argv[2] === '--inside') {
  inside(JSON.parse(process.argv[3])).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`bench/net.mjs (in the lab): ${e.stack ?? e}`);
      process.exit(1);
    },
  );
} else {
  await outer();
}
