/**
 * The network lab of the net integration tests: a small world in two throw-away network
 * namespaces, so jail's networking can be tested without touching the machine's own network
 * namespace and without contacting anything outside the lab.
 *
 *   netns LAB   (jail and its pasta run here)        netns WORLD (the test hosts)
 *   lo 127.0.0.1, ::1 (+ the lab's services)         lo: every test host address /32 or /128
 *   veth 198.51.100.2/24, 2001:db8:1::2/64  <----->  veth 198.51.100.1/24, 2001:db8:1::1/64
 *   default via 198.51.100.1 / 2001:db8:1::1         one python process: HTTP on 80,443,8080
 *   + explicit routes for the private ranges           and UDP echo on 9999 for every host
 *   resolv.conf: nameserver 10.53.0.53               dnsmasq on 10.53.0.53 (static answers)
 *
 * The veth pair is created inside LAB with its peer moved straight to WORLD, so no link, address,
 * route or rule ever exists in the host's namespace. Everything is removed by `destroy()` (call it
 * in afterAll); a process 'exit' hook does the same if the run dies before that, and
 * `leftovers()` says what would still exist (the teardown check).
 *
 * Rootless runs: /dev/net/tun on the test machines is 0600 root, so an unprivileged pasta cannot
 * open it. `run(..., { user: 'rootless' })` therefore runs the command through a wrapper inside
 * `ip netns exec` (which gives its command a private mount namespace whose mounts are slaves of
 * the host's: nothing propagates back): it mounts a private tmpfs, makes a 0666 tun node there,
 * binds it over /dev/net/tun — in that mount namespace only — and drops to the user with setpriv.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Absolute paths: the lab runs as root with a system PATH, never through pyenv shims. */
export const PYTHON = '/usr/bin/python3';
const IP = '/usr/sbin/ip';
const DNSMASQ = '/usr/sbin/dnsmasq';
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const NET_DIR = __dirname;
export const PROBE_PY = path.join(NET_DIR, 'probe.py');
const SERVER_PY = path.join(NET_DIR, 'lab-server.py');

/** The world's test hosts. Public-looking ones come from the documentation ranges. */
export const HOSTS = {
  public4: '198.51.100.10',
  other4: '203.0.113.20',
  public6: '2001:db8:2::10',
  private10: '10.1.2.3',
  private172: '172.16.1.2',
  private192: '192.168.1.10',
  cgnat: '100.64.1.2',
  metadata: '169.254.169.254',
  ula6: 'fd00::10',
} as const;
export type HostName = keyof typeof HOSTS;

/** Hosts a jail must never reach (they are in ranges jail blocks), by name. */
export const BLOCKED_HOSTS: HostName[] = ['private10', 'private172', 'private192', 'cgnat', 'metadata', 'ula6'];
/** Hosts reachable with --net internet. */
export const PUBLIC_HOSTS: HostName[] = ['public4', 'other4', 'public6'];

/** Every world host answers HTTP on these TCP ports (443 is plain HTTP) and echoes on UDP_PORT. */
export const TCP_PORTS = [80, 443, 8080];
export const UDP_PORT = 9999;
/** The lab's own services (on its veth addresses and its loopback). */
export const LAB_TCP_PORTS = [80, 8080];

/** The DNS server: deliberately a private address, like many hosts' resolvers. */
export const DNS_SERVER = '10.53.0.53';
/** dnsmasq's static answers (every other name under .test is NXDOMAIN). */
export const DNS_NAMES: Record<string, string> = {
  'public.test': HOSTS.public4,
  'other.test': HOSTS.other4,
  'public6.test': HOSTS.public6,
  'private.test': HOSTS.private10,
  'metadata.test': HOSTS.metadata,
  'rebind.test': HOSTS.private192,
  'ula.test': HOSTS.ula6,
};

/** The lab's side of the veth, and the world's side (the lab's default gateway). */
export const LAB_ADDRESS = '198.51.100.2';
export const LAB_ADDRESS6 = '2001:db8:1::2';
export const GATEWAY = '198.51.100.1';
export const GATEWAY6 = '2001:db8:1::1';
/** Ranges routed explicitly into the world besides the default routes. */
const PRIVATE_ROUTES4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16'];
const PRIVATE_ROUTES6 = ['fc00::/7'];

/** `hello from world ADDR:PORT`, the body every world service answers with. */
export const worldBody = (addr: string, port: number) => (addr.includes(':') ? `hello from world [${addr}]:${port}` : `hello from world ${addr}:${port}`);
/** Every lab service's answer starts with this (the jail must never get it). */
export const LAB_BODY_PREFIX = 'hello from lab';

export interface LabResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  wallMs: number;
}

export interface LabRunOptions {
  /** 'root' (default) or 'rootless': through the tun wrapper, as `as` (default nobody/nogroup). */
  user?: 'root' | 'rootless';
  as?: { uid: number; gid: number };
  /** Which namespace (default the lab's; 'world' is for control checks only). */
  ns?: 'lab' | 'world';
  /** SIGKILL after this long (default 20 s). */
  timeoutMs?: number;
  input?: string;
  /** Default: PATH=system path, HOME=/. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LabProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches `re`; rejects on exit or after `timeoutMs`. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<void>;
  /** Resolves when the process has exited (after a kill, or on its own). */
  exited: Promise<LabResult>;
  kill(): void;
}

export interface Lab {
  /** Prefix of every name of this lab (jl<pid>x<n>). */
  id: string;
  labNs: string;
  worldNs: string;
  vethLab: string;
  vethWorld: string;
  hosts: typeof HOSTS;
  labAddress: string;
  labAddress6: string;
  gateway: string;
  gateway6: string;
  dns: string;
  /** A temp dir (0755) for the lab's files; tests may put files there. */
  dir: string;
  /** The dnsmasq log (it logs every query). */
  dnsLog(): string;
  run(argv: string[], opts?: LabRunOptions): Promise<LabResult>;
  spawn(argv: string[], opts?: LabRunOptions): LabProcess;
  /** A throw-away lab-server.py (see there) in a namespace; killed by destroy() if still running. */
  startServer(tag: string, addrs: string[], tcpPorts: number[], udpPorts: number[], ns?: 'lab' | 'world'): Promise<LabProcess>;
  /** Kills everything, removes the namespaces, /etc/netns entry and temp dir. Idempotent. */
  destroy(): void;
  /** What of this lab still exists (empty after destroy()). */
  leftovers(): string[];
}

let labCount = 0;
const liveLabs = new Set<Lab>();

// If the run dies before afterAll (a crash, process.exit), still remove the namespaces.
process.on('exit', () => {
  for (const lab of liveLabs) {
    try {
      lab.destroy();
    } catch {
      // best effort: nothing else can be done in an exit hook
    }
  }
});

const sh = (argv: string[], timeout = 10_000): string =>
  execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function pidAlive(pid: number): boolean {
  try {
    // A zombie still "exists" for kill(0); read its state instead.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Names of a lab: jl<pid of the test process>x<n>lab / ...w; the temp dir starts jail-net-jl<pid>x<n>-. */
const LAB_NS_RE = /^jl(\d+)x\d+(lab|w)$/;
const LAB_DIR_RE = /^jail-net-jl(\d+)x\d+-/;

/**
 * Removes what labs of test processes that no longer exist left behind (a worker killed on a
 * timeout runs no 'exit' hook): their namespaces (with any process still in them), /etc/netns
 * entries and temp dirs. Only names of our own pattern whose test process is gone are touched.
 */
function sweepDeadLabs(): void {
  const dead = (pid: string) => Number(pid) !== process.pid && !pidAlive(Number(pid));
  for (const ns of netnsList()) {
    const m = LAB_NS_RE.exec(ns);
    if (!m || !dead(m[1])) continue;
    killNetnsProcesses([ns]);
    try {
      sh([IP, 'netns', 'del', ns]);
    } catch {
      // gone meanwhile
    }
    fs.rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  for (const name of fs.readdirSync(os.tmpdir())) {
    const m = LAB_DIR_RE.exec(name);
    if (m && dead(m[1])) fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
}

/** SIGKILLs every process in these namespaces, one pid at a time, until none is left (bounded). */
function killNetnsProcesses(namespaces: string[]): void {
  for (let round = 0; round < 50; round++) {
    let left = 0;
    for (const ns of namespaces) {
      let pids: number[] = [];
      try {
        pids = sh([IP, 'netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number);
      } catch {
        continue; // no such netns
      }
      for (const pid of pids) {
        if (!pidAlive(pid)) continue;
        left += 1;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    if (left === 0) return;
    sleepSync(50);
  }
}

/** The network namespaces that exist (names), from `ip netns list`. */
export function netnsList(): string[] {
  return sh([IP, 'netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean);
}

/**
 * What the host's own network namespace looks like (links, addresses, routes), to prove the lab
 * leaves it alone: compare a snapshot before createLab() with one taken after.
 */
export function hostNetSnapshot(): string {
  // Only stable fields: counters, timers and operstate change by themselves.
  const addrs = JSON.parse(sh([IP, '-j', 'addr', 'show'])) as Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number }> }>;
  const routes = (fam: string) =>
    (JSON.parse(sh([IP, '-j', fam, 'route', 'show', 'table', 'all'])) as Array<Record<string, unknown>>)
      .map((r) => `${r.table ?? 'main'} ${r.type ?? ''} ${r.dst} ${r.gateway ?? ''} ${r.dev ?? ''}`)
      .sort();
  const rules = (fam: string) => sh([IP, fam, 'rule', 'show']).trim().split('\n').sort();
  return JSON.stringify({
    links: addrs.map((a) => `${a.ifname} ${(a.addr_info ?? []).map((i) => `${i.local}/${i.prefixlen}`).sort().join(' ')}`).sort(),
    routes4: routes('-4'),
    routes6: routes('-6'),
    rules4: rules('-4'),
    rules6: rules('-6'),
  });
}

/**
 * The rootless wrapper (see the header): $1 a directory for the private tmpfs, $2 uid, $3 gid,
 * then the command. `set -e`: if any step fails, the command does not run at all.
 */
const ROOTLESS_WRAPPER = [
  'set -e',
  'd=$1; uid=$2; gid=$3; shift 3',
  // A fresh tmpfs (not nodev, unlike some /tmp mounts), visible only in this mount namespace.
  'mount -t tmpfs -o mode=0755,size=64k jail-net-lab-tun "$d"',
  'mknod "$d/tun" c 10 200',
  'chmod 0666 "$d/tun"',
  'mount --bind "$d/tun" /dev/net/tun',
  'exec setpriv --reuid "$uid" --regid "$gid" --clear-groups -- "$@"',
].join('\n');

export async function createLab(): Promise<Lab> {
  if (process.geteuid?.() !== 0) throw new Error('the network lab needs root (it creates network namespaces)');
  for (const tool of [IP, DNSMASQ, PYTHON, '/usr/bin/setpriv', '/usr/bin/pasta']) {
    if (!fs.existsSync(tool)) throw new Error(`the network lab needs ${tool} (apt-get install iproute2 dnsmasq-base python3 util-linux passt)`);
  }
  sweepDeadLabs();
  labCount += 1;
  const id = `jl${process.pid}x${labCount}`;
  const labNs = `${id}lab`;
  const worldNs = `${id}w`;
  const vethLab = `${id}a`;
  const vethWorld = `${id}b`;
  if (vethLab.length > 15) throw new Error(`veth name ${vethLab} is longer than 15 characters`);
  const etcNetns = `/etc/netns/${labNs}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `jail-net-${id}-`));
  fs.chmodSync(dir, 0o755);
  const tunDir = path.join(dir, 'tun');
  fs.mkdirSync(tunDir, { mode: 0o755 });

  const procs = new Set<LabProcess>();
  let destroyed = false;

  const nsName = (ns: 'lab' | 'world' = 'lab') => (ns === 'lab' ? labNs : worldNs);
  const inNs = (ns: 'lab' | 'world', argv: string[]) => sh([IP, 'netns', 'exec', nsName(ns), ...argv]);

  const spawnIn = (argv: string[], opts: LabRunOptions = {}): LabProcess => {
    if (destroyed) throw new Error(`lab ${id} is destroyed`);
    let full = [IP, 'netns', 'exec', nsName(opts.ns), ...argv];
    if (opts.user === 'rootless') {
      const who = opts.as ?? { uid: 65534, gid: 65534 };
      full = [IP, 'netns', 'exec', nsName(opts.ns), '/bin/sh', '-c', ROOTLESS_WRAPPER, 'jail-net-rootless', tunDir, String(who.uid), String(who.gid), ...argv];
    }
    const child = spawn(full[0], full.slice(1), {
      cwd: opts.cwd ?? '/',
      env: opts.env ?? { PATH: SYSTEM_PATH, HOME: '/' },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so a timeout kills what it started too (not only the first pid).
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const start = Date.now();
    let timedOut = false;
    const listeners = new Set<() => void>();
    child.stdout!.on('data', (d: Buffer) => {
      out.push(d);
      for (const l of listeners) l();
    });
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.stdin!.on('error', () => {});
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
      try {
        child.kill('SIGKILL');
      } catch {
        // gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs ?? 20_000);
    let done = false;
    const exited = new Promise<LabResult>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        procs.delete(proc);
        for (const l of listeners) l();
        resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut, wallMs: Date.now() - start });
      };
      child.on('error', (e) => {
        err.push(Buffer.from(String(e)));
        finish(null, null);
      });
      child.on('close', finish);
      // 'close' waits for stdout/stderr to close, which never happens while something the
      // command left behind (a daemonized pasta) holds them: after the exit, wait a little for
      // the output, then stop waiting.
      child.on('exit', (code, signal) => {
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(code, signal);
        }, 500).unref();
      });
    });
    const proc: LabProcess = {
      child,
      pid: child.pid ?? -1,
      stdout: () => Buffer.concat(out).toString('utf8'),
      stderr: () => Buffer.concat(err).toString('utf8'),
      exited,
      kill: killGroup,
      waitForOutput: (re, timeoutMs) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (re.test(proc.stdout())) {
              cleanup();
              resolve();
            } else if (done) {
              cleanup();
              reject(new Error(`${argv.join(' ')} exited before printing ${re}: stdout ${proc.stdout().slice(0, 1000)} stderr ${proc.stderr().slice(0, 2000)}`));
            }
          };
          const t = setTimeout(() => {
            cleanup();
            reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${argv.join(' ')}: stderr ${proc.stderr().slice(0, 2000)}`));
          }, timeoutMs);
          const cleanup = () => {
            clearTimeout(t);
            listeners.delete(check);
          };
          listeners.add(check);
          check();
        }),
    };
    procs.add(proc);
    return proc;
  };

  const startServer = async (tag: string, addrs: string[], tcpPorts: number[], udpPorts: number[], ns: 'lab' | 'world' = 'lab') => {
    const p = spawnIn([PYTHON, SERVER_PY, tag, addrs.join(','), tcpPorts.join(','), udpPorts.join(',')], { ns, timeoutMs: 3_600_000 });
    await p.waitForOutput(/^ready$/m, 10_000);
    return p;
  };

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    liveLabs.delete(lab);
    for (const p of procs) p.kill();
    // Anything else still running in our namespaces (pasta started by a jail, a server a test
    // forgot): every process there is one this run started.
    killNetnsProcesses([labNs, worldNs]);
    for (const ns of [labNs, worldNs]) {
      // Deleting the namespace deletes its end of the veth, and so the pair.
      try {
        sh([IP, 'netns', 'del', ns]);
      } catch {
        // not created, or already gone
      }
    }
    fs.rmSync(etcNetns, { recursive: true, force: true });
    try {
      fs.rmdirSync('/etc/netns'); // only when empty: another lab (or the admin) may use it
    } catch {
      // not empty, or absent
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const leftovers = () => {
    const out: string[] = [];
    const names = netnsList();
    for (const ns of [labNs, worldNs]) if (names.includes(ns)) out.push(`netns ${ns}`);
    const links = (JSON.parse(sh([IP, '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname);
    for (const l of [vethLab, vethWorld]) if (links.includes(l)) out.push(`link ${l} in the host's namespace`);
    if (fs.existsSync(etcNetns)) out.push(etcNetns);
    if (fs.existsSync(dir)) out.push(dir);
    for (const p of procs) if (pidAlive(p.pid)) out.push(`process ${p.pid}`);
    return out;
  };

  const lab: Lab = {
    id,
    labNs,
    worldNs,
    vethLab,
    vethWorld,
    hosts: HOSTS,
    labAddress: LAB_ADDRESS,
    labAddress6: LAB_ADDRESS6,
    gateway: GATEWAY,
    gateway6: GATEWAY6,
    dns: DNS_SERVER,
    dir,
    dnsLog: () => {
      try {
        return fs.readFileSync(path.join(dir, 'dnsmasq.log'), 'utf8');
      } catch {
        return '';
      }
    },
    run: (argv, opts) => spawnIn(argv, opts).exited,
    spawn: spawnIn,
    startServer,
    destroy,
    leftovers,
  };
  liveLabs.add(lab);

  try {
    sh([IP, 'netns', 'add', labNs]);
    sh([IP, 'netns', 'add', worldNs]);
    for (const ns of ['lab', 'world'] as const) {
      // No duplicate address detection: addresses are usable at once (no 1-2 s "tentative").
      inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      inNs(ns, [IP, 'link', 'set', 'lo', 'up']);
    }
    // Made inside the lab namespace, its peer sent straight to the world: never in the host's.
    sh([IP, '-n', labNs, 'link', 'add', vethLab, 'type', 'veth', 'peer', 'name', vethWorld, 'netns', worldNs]);

    sh([IP, '-n', worldNs, 'addr', 'add', `${GATEWAY}/24`, 'dev', vethWorld]);
    sh([IP, '-n', worldNs, 'addr', 'add', `${GATEWAY6}/64`, 'dev', vethWorld, 'nodad']);
    sh([IP, '-n', worldNs, 'link', 'set', vethWorld, 'up']);
    // The hosts live on the world's loopback: local addresses, no forwarding needed; the world
    // answers ARP for them on the veth (arp_ignore=0, the default).
    for (const a of [...Object.values(HOSTS), DNS_SERVER]) {
      sh([IP, '-n', worldNs, 'addr', 'add', a.includes(':') ? `${a}/128` : `${a}/32`, 'dev', 'lo']);
    }

    sh([IP, '-n', labNs, 'addr', 'add', `${LAB_ADDRESS}/24`, 'dev', vethLab]);
    sh([IP, '-n', labNs, 'addr', 'add', `${LAB_ADDRESS6}/64`, 'dev', vethLab, 'nodad']);
    sh([IP, '-n', labNs, 'link', 'set', vethLab, 'up']);
    sh([IP, '-n', labNs, 'route', 'add', 'default', 'via', GATEWAY]);
    sh([IP, '-n', labNs, '-6', 'route', 'add', 'default', 'via', GATEWAY6]);
    // The default routes already cover them, but a host may well route its private ranges
    // explicitly (a VPN, a LAN): jail must block them anyway, so the lab has such routes too.
    for (const r of PRIVATE_ROUTES4) sh([IP, '-n', labNs, 'route', 'add', r, 'via', GATEWAY]);
    for (const r of PRIVATE_ROUTES6) sh([IP, '-n', labNs, '-6', 'route', 'add', r, 'via', GATEWAY6]);

    // `ip netns exec LAB` binds this over /etc/resolv.conf for its command (and so for jail).
    fs.mkdirSync(etcNetns, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(etcNetns, 'resolv.conf'), `nameserver ${DNS_SERVER}\noptions timeout:1 attempts:2\n`, { mode: 0o644 });

    await startServer('world', [...Object.values(HOSTS)], TCP_PORTS, [UDP_PORT], 'world');
    // The lab's own services: on its veth addresses and its loopback. A jail reaching any of
    // them would have reached the host itself.
    await startServer('lab', [LAB_ADDRESS, LAB_ADDRESS6, '127.0.0.1', '::1'], LAB_TCP_PORTS, [UDP_PORT], 'lab');

    // dnsmasq: static answers only (no upstream, no hosts file, no config file), on the private
    // address only; everything it writes stays in the lab's temp dir.
    const dnsArgs = [
      DNSMASQ,
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      `--listen-address=${DNS_SERVER}`,
      '--port=53',
      `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
      `--log-facility=${path.join(dir, 'dnsmasq.log')}`,
      '--log-queries',
      '--local=/test/',
      // host-record, not address=/name/: a name with only a v4 address then answers AAAA with
      // NODATA (address=/name/ makes it NXDOMAIN, which some resolvers take for the whole name).
      ...Object.entries(DNS_NAMES).map(([name, addr]) => `--host-record=${name},${addr}`),
    ];
    const dns = spawnIn(dnsArgs, { ns: 'world', timeoutMs: 3_600_000 });
    // Ready when it answers: poll with a bounded number of queries.
    let answered = false;
    for (let i = 0; i < 50 && !answered; i++) {
      const r = await spawnIn([PYTHON, '-c', DNS_QUERY_PY, DNS_SERVER, 'public.test'], { timeoutMs: 5_000 }).exited;
      answered = r.code === 0 && r.stdout.includes(HOSTS.public4);
      if (!answered) await new Promise((res) => setTimeout(res, 100));
    }
    if (!answered) throw new Error(`dnsmasq did not answer: ${dns.stderr().slice(0, 2000)} ${lab.dnsLog().slice(0, 2000)}`);
  } catch (e) {
    destroy();
    throw e;
  }
  return lab;
}

/**
 * A raw DNS A query over UDP (python, standard library), so the control tests ask the server
 * itself rather than trusting getaddrinfo: prints the addresses of the answer, one a line.
 */
export const DNS_QUERY_PY = `
import socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
qtype = 28 if len(sys.argv) > 3 and sys.argv[3] == 'AAAA' else 1
q = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0)
q += b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\\0' + struct.pack('>HH', qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, (server, 53))
r = s.recv(4096)
rcode = r[3] & 15
an = struct.unpack('>H', r[6:8])[0]
print('rcode', rcode)
i = len(q)
for _ in range(an):
    i += 2 if r[i] & 0xc0 == 0xc0 else len(name) + 2
    t, c, ttl, l = struct.unpack('>HHIH', r[i:i + 10])
    i += 10
    data = r[i:i + l]
    i += l
    if t == 1: print(socket.inet_ntop(socket.AF_INET, data))
    if t == 28: print(socket.inet_ntop(socket.AF_INET6, data))
`;
