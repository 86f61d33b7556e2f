/**
 * Shared pieces of the `native` test layer: the built addon (with a clear error when it is
 * missing), plans for the real host, the probe, and counts of this process's fds and children.
 * Everything here works as root and as an ordinary user.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAddon } from '../../src/native/addon';
import type { LaunchResources, NativeAddon, SetupFailure, SetupResult } from '../../src/native/types';
import type { JailPlan } from '../../src/sandbox/plan';
import { buildPlan, type PlannedJail } from '../../src/sandbox';
import { realHost, type HostFacts } from '../../src/sandbox/host';
import type { Filter } from '../../src/policy/types';
import { fromFlags } from './config';

export const REPO = path.resolve(__dirname, '..', '..');
export const ADDON_PATH = path.join(REPO, 'build', 'Release', 'jail_native.node');

/** The real addon; throws a message that says how to build it when it is missing. Use in beforeAll. */
export function requireAddon(): NativeAddon {
  if (!fs.existsSync(ADDON_PATH)) {
    throw new Error(`${ADDON_PATH} does not exist: the native tests need the built addon. Run \`npm run build:native\` (needs g++, make, python3) first.`);
  }
  return loadAddon();
}

/** A PATH that exists on any Debian-like machine, independent of the caller's shell setup. */
export const SYSTEM_ENV: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/**
 * The host as the planner sees it when it has no cgroup filesystem: jails without limits then get
 * no cgroup, so these tests do not depend on the cgroup stage (it has its own tests).
 */
const NO_CGROUPS = {
  mounts: [],
  selfV2: null,
  owner: { pid: process.pid, start: 0, pidns: 0 },
  cloneIntoCgroup: false,
  fsType: () => null,
  read: () => null,
  exists: (p: string) => p === '/',
  writable: () => false,
  nextSequence: () => 0,
};

/** The real host (without cgroups), with some paths pretending to exist (to reach the kernel with a missing mount source). */
export function hostWith(pretendDirs: string[] = []): HostFacts {
  const real = realHost(SYSTEM_ENV);
  return {
    ...real,
    stat: (p) => (pretendDirs.includes(p) ? { isDirectory: true, isFile: false } : real.stat(p)),
    lstat: (p) => (pretendDirs.includes(p) ? { type: 'dir', uid: 0, mode: 0o755 } : real.lstat(p)),
    cgroups: () => NO_CGROUPS,
  } as HostFacts;
}

/** A plan for this machine from nsjail flags (the planner's view of the real host). */
export function hostPlan(argv: string[], opts: { host?: HostFacts; filter?: Filter | null } = {}): PlannedJail {
  const { loaded, command } = fromFlags(argv);
  return buildPlan(loaded, { command, env: SYSTEM_ENV, filter: opts.filter ?? null, host: opts.host ?? hostWith() });
}

/** Open fds of this process. */
export function openFds(): number[] {
  return fs.readdirSync('/proc/self/fd').map(Number).sort((a, b) => a - b);
}

/** Children of this process that still exist (running or zombie), over all its threads. */
export function childPids(): number[] {
  const out: number[] = [];
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      out.push(...fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // the thread ended
    }
  }
  return out;
}

let probe: string | undefined;

/** The static probe (test/probe), built if missing. */
export function probePath(): string {
  if (probe) return probe;
  const out = execFileSync(path.join(REPO, 'test/probe/build.sh'), [], { encoding: 'utf8', timeout: 120_000 });
  probe = out.trim().split('\n').pop()!;
  return probe;
}

/** The probe's JSON (its last stdout line). */
export function parseProbe(stdout: Buffer | string | undefined): Record<string, unknown> {
  const lines = (stdout ?? '').toString().split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error('the probe printed nothing');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

/**
 * launch() until the program has exec'd: the jail's pid and pidfd (the caller watches the exit and
 * closes the pidfd), or how clone or setup failed (a child that failed in setup is reaped here).
 */
export async function launchToExec(
  addon: NativeAddon,
  plan: JailPlan,
  resources: LaunchResources,
): Promise<{ ok: true; pid: number; pidfd: number } | ({ ok: false } & SetupFailure)> {
  let onSetup!: (r: SetupResult) => void;
  const setup = new Promise<SetupResult>((resolve) => (onSetup = resolve));
  const started = addon.launch(plan, resources, onSetup, undefined);
  if (!started.ok) return started;
  const result = await setup;
  if (result.ok) return started;
  await new Promise((resolve) => addon.watchExit(started.pidfd, started.pid, resolve));
  addon.close(started.pidfd);
  return result;
}
