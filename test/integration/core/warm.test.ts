/**
 * The warm path (issue 13): build/Release/jail_client handing its run to `jail warm`. The same
 * command line cold (node bin/jail) and warm gives the same stdout, stderr (log timestamps,
 * pids and cgroup names normalised), exit code and --report json (minus measured fields), for a
 * program's exit code, a time limit, a seccomp violation, a setup failure and a bad flag. Also:
 * stdin is the client's; concurrent runs; SIGTERM to the client kills the jail (143); SIGKILL of
 * the client kills the jail, under each kind of id change; runs that need a process of their
 * own (-Me) run cold; a client in another mount namespace is sent cold; another uid is refused
 * by the server and the client falls back; no server or a stale socket falls back to cold.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { processesWithArgv } from '../hardening/helpers';
import { assertBuilt, cli, JAIL_BIN, killSpawned, REPO, SYSTEM_PATH, tempDir, waitFor, type CliOptions, type CliResult } from './helpers';

const CLIENT = path.join(REPO, 'build', 'Release', 'jail_client');
const CHROOT = ['--chroot', '/'];
/** Fields of the exit report that measure this run (time, memory): they differ between any two runs. */
const MEASURED = ['wallTimeMs', 'userTimeMs', 'systemTimeMs', 'maxRssKb', 'memoryPeakBytes', 'cpuTimeMs'];

/**
 * What legitimately differs between two runs of one command: log timestamps, pids, cgroup names,
 * the cgroups of dead supervisors (of other test files running alongside) that whichever run came
 * first swept, and where the program's own stderr falls among the supervisor's lines (the
 * supervisor logs "executing" once the exec succeeded, while the program may already write).
 * So the supervisor's lines and the program's are compared each in their own order.
 */
function normalise(text: string): string {
  const lines = text
    .split('\n')
    .filter((line) => !/^\[I\]\[[^\]]+\] removed .* left by jail supervisor pid \d+ \(no longer running\)$/.test(line))
    .map((line) => {
      if (line.startsWith('{"outcome"')) {
        const r = JSON.parse(line) as Record<string, unknown>;
        for (const k of MEASURED) if (k in r) r[k] = 'measured';
        return JSON.stringify(r);
      }
      return line
        .replace(/^\[([DIWEF])\]\[[^\]]+\]/, '[$1][time]')
        .replace(/pid=\d+/g, 'pid=N')
        .replace(/NSJAIL\/[\d.]+/g, 'NSJAIL/N');
    });
  const fromSupervisor = (line: string) => /^\[[DIWEF]\]\[time\] /.test(line) || line.startsWith('{"outcome"');
  return [...lines.filter(fromSupervisor), '--- the program:', ...lines.filter((l) => !fromSupervisor(l))].join('\n');
}

describeAsRoot('the warm path: jail_client and jail warm', () => {
  let dir: { dir: string; remove: () => void };
  let socket: string;
  let server: ChildProcess;
  let serverLog = '';
  let env: NodeJS.ProcessEnv;

  const warm = (args: string[], opts: CliOptions = {}) => cli(args, { env, ...opts, client: CLIENT });
  const cold = (args: string[], opts: CliOptions = {}) => cli(args, { env, ...opts });

  beforeAll(async () => {
    assertBuilt();
    expect(fs.existsSync(CLIENT), 'build/Release/jail_client (npm run build:native)').toBe(true);
    dir = tempDir('jail-it-warm-');
    socket = path.join(dir.dir, 'run', 'warm.sock');
    env = { PATH: SYSTEM_PATH, JAIL_WARM_SOCKET: socket };
    server = spawn(process.execPath, [JAIL_BIN, 'warm', '--socket', socket], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    server.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
    await waitFor(() => serverLog.includes('warm supervisor for uid 0'), 10_000, 'jail warm to listen');
    expect((fs.statSync(path.dirname(socket)).mode & 0o777).toString(8)).toBe('700');
  });

  afterEach(killSpawned);

  afterAll(async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    expect(fs.existsSync(socket), 'the socket is removed on SIGTERM').toBe(false);
    dir.remove();
  });

  /** Runs `args` cold and warm, and checks the two are the same; returns the warm result. */
  async function same(args: string[], opts: CliOptions = {}): Promise<CliResult> {
    const runs = serverLog.split('\n').length;
    const c = await cold(args, opts);
    const w = await warm(args, opts);
    expect(w.code, `exit code of ${args.join(' ')}`).toBe(c.code);
    expect(w.stdout).toBe(c.stdout);
    expect(normalise(w.stderr)).toBe(normalise(c.stderr));
    // Nothing was logged by the server: the run was served warm, not refused or sent cold.
    expect(serverLog.split('\n').length).toBe(runs);
    return w;
  }

  it('a program exit code (3), with --report json: same output, code and report', async () => {
    const w = await same(['--report', 'json', ...CHROOT, '--', '/bin/sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(w.code).toBe(3);
    expect(w.stdout).toBe('out\n');
    expect(w.stderr).toMatch(/"outcome":"exited","exitCode":3/);
  });

  it('a time limit: 137 and outcome timeout, both ways', async () => {
    const w = await same(['-q', '--report', 'json', '-t', '1', ...CHROOT, '--', '/bin/sleep', '5']);
    expect(w.code).toBe(137);
    expect(w.stderr).toMatch(/"outcome":"timeout"/);
  });

  it('a seccomp violation: same code, log and report', async () => {
    const w = await same(['--report', 'json', ...CHROOT, '--seccomp_string', 'KILL { newuname } DEFAULT ALLOW', '--', '/bin/uname']);
    expect(w.stderr).toMatch(/"outcome":"seccomp-violation"/);
  });

  it('a setup failure (a missing bind source): 255 and the same message', async () => {
    const w = await same(['--report', 'json', ...CHROOT, '-R', '/nonexistent/jail-it-src:/mnt', '--', '/bin/true']);
    expect(w.code).toBe(255);
  });

  it('a bad flag: 255 and the same message; --help and --version the same', async () => {
    expect((await same(['--no-such-flag', '--', '/bin/true'])).code).toBe(255);
    await same(['--help']);
    await same(['--version']);
    await same(['check', ...CHROOT, '-t', 'x']);
  });

  it('the playground config, its env and cwd handling: the same', async () => {
    await same(['--config', 'examples/python-playground.cfg', '--', '/usr/bin/python3', '-c', 'import os; print(os.getcwd(), sorted(os.environ))'], {
      cwd: REPO,
      env: { ...env, PWD: REPO, HF_HOME: '/x' },
    });
  });

  it("stdin is the client's fd 0", async () => {
    const w = await same(['-Q', ...CHROOT, '--', '/usr/bin/tr', 'a-z', 'A-Z'], { input: 'hello warm\n' });
    expect(w.stdout).toBe('HELLO WARM\n');
  });

  it('concurrent runs are independent', async () => {
    const rs = await Promise.all([1, 2, 3, 4, 5].map((n) => warm(['-Q', ...CHROOT, '--', '/bin/sh', '-c', `sleep 0.2; echo ${n}; exit ${n}`])));
    expect(rs.map((r) => [r.code, r.stdout])).toEqual([1, 2, 3, 4, 5].map((n) => [n, `${n}\n`]));
  });

  async function signalClient(sig: NodeJS.Signals, seconds: string, ids: string[] = []): Promise<{ r: CliResult; goneAfterMs: number }> {
    let client: ChildProcess | undefined;
    const done = warm(['-q', '-t', '0', ...CHROOT, ...ids, '--', '/bin/sleep', seconds], { onSpawn: (c) => (client = c) });
    await waitFor(() => processesWithArgv(['/bin/sleep', seconds]).length === 1, 10_000, 'the jailed sleep to run');
    const at = Date.now();
    client!.kill(sig);
    const r = await done;
    await waitFor(() => processesWithArgv(['/bin/sleep', seconds]).length === 0, 5000, `the jail to die after ${sig} to its client`, 5);
    return { r, goneAfterMs: Date.now() - at };
  }

  it('SIGTERM to the client kills the jail and the client exits 143, as the cold CLI', async () => {
    const { r, goneAfterMs } = await signalClient('SIGTERM', '7901');
    expect(r.code).toBe(143);
    expect(goneAfterMs).toBeLessThanOrEqual(1000);
  });

  // test/integration/hardening/supervisor-death.test.ts through the warm path: the client is
  // what the user holds, so its death must end the jail as the cold CLI's does.
  const idModes: Array<[string, string[]]> = [
    ['uid 0, mapped to root', []],
    ['uid 65534 mapped to host 65534 (a kernel id change)', ['-u', '65534:65534:1', '-g', '65534:65534:1']],
    ['no user namespace, setuid 65534', ['--disable_clone_newuser', '-u', '65534', '-g', '65534']],
  ];
  idModes.forEach(([name, ids], i) => {
    it(`SIGKILL of the client kills the jail (the server ends a run whose connection closes): ${name}`, async () => {
      const { r, goneAfterMs } = await signalClient('SIGKILL', String(7902 + i), ids);
      expect(r.signal).toBe('SIGKILL');
      expect(goneAfterMs).toBeLessThanOrEqual(1000);
    });
  });

  it('a client in another mount namespace (e.g. inside a sandbox) is sent cold: no jail is built from the less confined server', async () => {
    const r = await cli(['-m', CLIENT, '-q', ...CHROOT, '--', '/bin/sh', '-c', 'echo inner; exit 6'], { env, client: '/usr/bin/unshare' });
    expect([r.code, r.stdout]).toEqual([6, 'inner\n']);
    await waitFor(() => /runs cold: its ns mnt differs/.test(serverLog), 2000, 'the server to log why it sent the run cold');
  });

  it('jail box exec runs warm: the client\'s stdin, stdout, stderr and exit code, no Node on the way', async () => {
    // A box's overlay cannot take its upper layer from overlayfs: where the temporary directory
    // is on it (the cgroup v2 lane's guest root), the box state goes to a tmpfs.
    const onOverlay = fs.statfsSync(dir.dir).type === 0x794c7630;
    const state = onOverlay ? fs.mkdtempSync('/dev/shm/jail-it-warm-boxes-') : path.join(dir.dir, 'boxes');
    // The box's user (nobody, as root without a workspace) passes through it to the box's layers.
    if (onOverlay) fs.chmodSync(state, 0o711);
    const boxEnv = { ...env, JAIL_STATE_DIR: state };
    expect((await cold(['box', 'create', 'wb'], { env: boxEnv })).code).toBe(0);
    expect((await cold(['box', 'start', 'wb'], { env: boxEnv })).code).toBe(0);
    try {
      // A cold fallback could not start: JAIL_CLI names nothing.
      const noCold = { ...boxEnv, JAIL_CLI: path.join(dir.dir, 'no-cli') };
      const r = await warm(['box', 'exec', 'wb', '--', 'sh', '-c', 'cat; echo err >&2; exit 4'], { env: noCold, input: 'via the client\n' });
      expect([r.code, r.stdout, r.stderr]).toEqual([4, 'via the client\n', 'err\n']);
      // A terminal needs a process of its own: sent cold (here: the fallback that cannot run).
      const tty = await warm(['box', 'exec', '-t', 'wb', '--', 'true'], { env: noCold });
      expect(tty.stderr).toContain('cannot run the Node CLI');
    } finally {
      await cold(['box', 'rm', '--force', 'wb'], { env: boxEnv });
      if (onOverlay) fs.rmSync(state, { recursive: true, force: true });
    }
  });

  it('-Me (execve mode replaces the process) is sent cold and behaves as cold', async () => {
    const w = await same(['-Me', '-q', ...CHROOT, '--', '/bin/sh', '-c', 'echo me; exit 4']);
    expect([w.code, w.stdout]).toEqual([4, 'me\n']);
  });

  it('a client of another uid: the server refuses it, the client runs cold', async () => {
    // uid 65534 with CAP_DAC_OVERRIDE reaches root's socket despite its 0700 directory; the server
    // closes the connection before reading anything.
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_override', '--ambient-caps=+dac_override'];
    const py = [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])',
      'try: d = s.recv(16)',
      'except ConnectionResetError: d = b""',
      'print("closed" if d == b"" else repr(d))',
    ].join('\n');
    const raw = spawnSync('setpriv', [...asNobody, '/usr/bin/python3', '-c', py, socket], { encoding: 'utf8' });
    expect(raw.stdout.trim(), raw.stderr).toBe('closed');
    await waitFor(() => serverLog.includes('refused a connection from uid 65534'), 2000, 'the server to log the refusal');
    // The client itself refuses a socket that is not its uid's, says so, and runs cold.
    const r = spawnSync('setpriv', [...asNobody, CLIENT, '--version'], { encoding: 'utf8', env });
    expect(r.stdout).toBe((await cold(['--version'])).stdout);
    expect(r.stderr).toMatch(/not using the warm server socket .* owned by uid 65534 .* running cold/);
  });

  it('no server, or a stale socket (connection refused): the client runs cold, silently', async () => {
    const args = ['-q', ...CHROOT, '--', '/bin/sh', '-c', 'echo cold; exit 5'];
    const none = await warm(args, { env: { ...env, JAIL_WARM_SOCKET: path.join(dir.dir, 'none', 'warm.sock') } });
    expect([none.code, none.stdout, normalise(none.stderr)]).toEqual([5, 'cold\n', normalise((await cold(args)).stderr)]);
    const staleDir = path.join(dir.dir, 'stale');
    fs.mkdirSync(staleDir, { mode: 0o700 });
    const stale = path.join(staleDir, 'warm.sock');
    // A socket file whose server is gone: bound, then closed without unlinking.
    spawnSync('/usr/bin/python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()', stale]);
    expect(fs.statSync(stale).isSocket()).toBe(true);
    const r = await warm(args, { env: { ...env, JAIL_WARM_SOCKET: stale } });
    expect([r.code, r.stdout]).toEqual([5, 'cold\n']);
  });
});
