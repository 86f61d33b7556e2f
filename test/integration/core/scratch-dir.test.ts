/**
 * The directory where a jail's root is assembled cannot be redirected onto the host (docs/architecture.md
 * §5). An unprivileged user's scratch directory is /tmp/jail-UID; another user can create it
 * first and, owning it, swap its root/ for a link to a directory of the victim's while the
 * victim's jails start. jail used to warn itself off such a directory and then use it anyway,
 * and its child re-opened the root by path for every mount step: mount points landed in the
 * victim's directory. Now the planner refuses any scratch directory that is not the caller's own
 * (src/sandbox/host.ts), and the child opens the scratch directory once and reaches root/ and
 * content/ from that descriptor without following links (native/mount.cc).
 *
 * Every loop here is bounded in count and time; the swapping process ends by itself and is
 * killed with the test users in any case.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import { describeAsRoot, describeIf } from '../../helpers/env';
import { hostPlan, hostWith, requireAddon, launchToExec } from '../../helpers/native';
import { cli, killSpawned, SYSTEM_PATH, tempDir, waitFor } from './helpers';
import { asUserArgv, createTestUser, removeTestUser, testUserReason, type TestUser } from './test-users';

const SYSTEM = ['-R', '/bin', '-R', '/lib', '-R', '/lib64', '-R', '/usr', '-T', '/work'];
const ELOOP = 40;
const ENOENT = 2;

/**
 * Swaps SCRATCH/root for a link to VICTIM and back, at most `count` times or `seconds` long
 * (perl: one process, no fork per swap). Each state is held for a moment (0.2 ms), about the
 * time between two mount steps of a launch. Prints "ready" once it started swapping.
 */
const SWAPPER = `
my ($scratch, $victim, $count, $seconds) = @ARGV;
chdir $scratch or die "chdir $scratch: $!";
my $end = time + $seconds;
$| = 1;
print "ready\\n";
for my $i (1 .. $count) {
  last if time > $end;
  rename "root", "root.real";
  symlink $victim, "root";
  select undef, undef, undef, 0.0002;
  unlink "root";
  rename "root.real", "root";
  select undef, undef, undef, 0.0002;
}
`;

let swapper: ChildProcess | undefined;

function startSwapper(prefix: string[], scratch: string, victim: string, count: number, seconds: number): Promise<void> {
  const [file, ...args] = [...prefix, '/usr/bin/perl', '-e', SWAPPER, scratch, victim, String(count), String(seconds)];
  swapper = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  swapper.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return waitFor(() => out.includes('ready'), 10_000, 'the swapping process to start');
}

function stopSwapper(): void {
  swapper?.kill('SIGKILL');
  swapper = undefined;
}

describeIf('scratch directory pre-created by another user (rootless)', testUserReason(), () => {
  let attacker: TestUser;
  let victim: TestUser;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(() => {
    attacker = createTestUser('jail-it-attacker');
    victim = createTestUser('jail-it-victim');
    tmp = tempDir('jail-it-scratch-');
  });
  afterEach(() => {
    stopSwapper();
    killSpawned();
  });
  afterAll(() => {
    stopSwapper();
    killSpawned();
    removeTestUser('jail-it-attacker');
    removeTestUser('jail-it-victim');
    tmp?.remove();
    expect(fs.existsSync(`/tmp/jail-${victim?.uid}`)).toBe(false);
  });

  it('jail refuses the directory with a clear error, and nothing appears in the victim directory', async () => {
    const scratch = `/tmp/jail-${victim.uid}`;
    // The attacker's copy of the victim's scratch directory, complete and 0711.
    for (const d of [scratch, `${scratch}/root`, `${scratch}/content`]) {
      fs.mkdirSync(d, { mode: 0o711 });
      fs.chmodSync(d, 0o711);
      fs.chownSync(d, attacker.uid, attacker.gid);
    }
    const target = path.join(tmp.dir, 'victim-dir');
    fs.mkdirSync(target, { mode: 0o755 });
    fs.chownSync(target, victim.uid, victim.gid);

    await startSwapper(asUserArgv(attacker), scratch, target, 5_000_000, 25);
    const deadline = Date.now() + 20_000;
    const codes: number[] = [];
    let stderr = '';
    for (let i = 0; i < 300 && Date.now() < deadline; i++) {
      const r = await cli(['-q', ...SYSTEM, '--', '/bin/true'], { asUser: victim, cwd: '/', env: { PATH: SYSTEM_PATH, HOME: '/' }, timeoutMs: 10_000 });
      codes.push(r.code ?? -1);
      stderr = r.stderr;
    }
    stopSwapper();
    console.log(`scratch race (rootless): ${codes.length} launches, exit codes ${[...new Set(codes)].join(',')}, in the victim directory: ${JSON.stringify(fs.readdirSync(target))}`);
    expect(fs.readdirSync(target)).toEqual([]);
    expect(codes.length).toBeGreaterThan(0);
    expect(new Set(codes)).toEqual(new Set([255]));
    expect(stderr).toContain(`no safe scratch directory for the jail root: ${scratch} belongs to uid ${attacker.uid}, not to this user (uid ${victim.uid})`);
    expect(stderr).toContain(`if you did not make ${scratch}, ask root to remove it`);
  });
});

describeAsRoot('the child reaches the jail root from one descriptor (root)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir('jail-it-scratch-root-');
  });
  afterEach(() => stopSwapper());
  afterAll(() => tmp?.remove());

  it('root/ swapped for a link while jails start: each launch runs or fails at a mount step, nothing lands in the link target', async () => {
    const addon = requireAddon();
    // A scratch directory of our own that the planner is told to use, and a process that keeps
    // swapping its root/ for a link (what an owner of the directory could do; the planner's
    // ownership check is the rootless test's business).
    const scratch = path.join(tmp.dir, 'scratch');
    for (const d of [scratch, `${scratch}/root`, `${scratch}/content`]) fs.mkdirSync(d, { mode: 0o711 });
    const target = path.join(tmp.dir, 'victim-dir');
    fs.mkdirSync(target);
    const host = { ...hostWith(), scratchDir: () => scratch };
    const planned = hostPlan([...SYSTEM, '--', '/bin/true'], { host });
    expect(planned.plan.rootDir).toBe(`${scratch}/root`);

    await startSwapper([], scratch, target, 5_000_000, 20);
    const deadline = Date.now() + 10_000;
    const outcomes = new Map<string, number>();
    let launches = 0;
    for (; launches < 400 && Date.now() < deadline; launches++) {
      const r = await launchToExec(addon, planned.plan, { stdio: [-1, -1, -1], passFds: [], execFd: -1, cgroupFd: -1, netGate: [-1, -1] });
      let key: string;
      if (r.ok) {
        const info = await new Promise<{ kind: string; code?: number }>((resolve) => addon.watchExit(r.pidfd, r.pid, resolve));
        addon.close(r.pidfd);
        key = `${info.kind} ${info.code}`;
      } else {
        key = `${r.stage} ${r.errno === ELOOP ? 'ELOOP' : r.errno === ENOENT ? 'ENOENT' : r.errno}`;
      }
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    stopSwapper();
    console.log(`scratch race (root): ${launches} launches: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    expect(fs.readdirSync(target)).toEqual([]);
    // Only clean runs and refusals at a mount step: ELOOP (a link where root/ was) or ENOENT
    // (root/ renamed away for a moment).
    expect([...outcomes.keys()].filter((k) => !['exited 0', 'mount ELOOP', 'mount ENOENT'].includes(k))).toEqual([]);
    expect(outcomes.get('mount ELOOP') ?? 0).toBeGreaterThan(0);
  });
});
