/**
 * The sandbox stage: Config x Filter -> JailPlan (docs/architecture.md §1). Pure apart from reading host
 * facts (HostFacts); everything the jail will do to the kernel ends up in the plan.
 */
import * as path from 'node:path';
import { capabilityNumber } from '../config/caps';
import { JailError } from '../errors';
import { fieldProblem } from '../config/finish';
import { resolveCommand } from '../config/command';
import type { Config, LoadedConfig, MountPt } from '../config/types';
import { planNetwork, type NetworkRuntime } from '../net/plan';
import type { Filter } from '../policy/types';
import { buildEnvironment, lookupCommand } from './exec';
import { realHost, scratchLayout, type HostFacts } from './host';
import { planIds } from './idmap';
import {
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  PERSONALITY,
  SIGKILL,
} from './kernel';
import { planMounts } from './mounts';
import { planCgroup } from '../cgroup/plan';
import { PLAN_LIMITS, PLAN_VERSION, type JailPlan, type MountEntry } from './plan';
import { planRlimits } from './rlimits';
import { planSeccomp } from './seccomp';
import { mayShareMemory } from './share-memory';

export interface PlanOptions {
  /**
   * The command after `--` (may be empty when the config has exec_bin). null checks everything
   * but the command (`jail check` without one); such a plan has an empty exec and cannot run.
   */
  command: string[] | null;
  /** The caller's environment: PATH lookup, keep_env, envar, prefix_*_env. */
  env?: NodeJS.ProcessEnv;
  /** The caller's working directory, for a relative --execute_fd path (default process.cwd()). */
  cwd?: string;
  /** The compiled seccomp policy, or null. */
  filter?: Filter | null;
  host?: HostFacts;
}

/** A plan plus what the supervisor needs to talk about it in the user's words. */
export interface PlannedJail {
  plan: JailPlan;
  /** User-facing description of each mount entry, indexed by a mount op's `ref`. */
  mounts: MountEntry[];
  /** Host path to open with O_PATH for execveat (--execute_fd), or null. */
  execFdPath: string | null;
  /** Host fds to keep open inside the jail (--pass_fd). */
  passFds: number[];
  warnings: string[];
  /** envar names to copy that the caller's environment does not have (skipped; logged at debug). */
  unsetEnv: string[];
  /** The network link and proxy the supervisor runs for the jail, or null. */
  network: NetworkRuntime | null;
  /** The user asked for syscall notifications (seccomp_unotify, or USER_NOTIF in the policy): they become events. */
  notifiesSyscalls: boolean;
  /** seccomp_unotify: the supervisor builds nsjail's unotify report, and writes it to `file` (absolute) when seccomp_unotify_report is set. */
  unotifyReport: { file: string | null } | null;
}

/** The jail has a network namespace of its own (not -N, not --net host). */
function sharesNoNetwork(c: Config): boolean {
  return c.cloneNewnet && c.net !== 'host';
}

/**
 * A jail with DNS through its link gets a resolv.conf naming the link's forwarder, bound over
 * the one it would see: the host's may name a loopback or private resolver the jail may not reach.
 * Not mandatory: a root without /etc/resolv.conf has no resolver to replace.
 */
function withResolvConf(loaded: LoadedConfig, content: string | null): LoadedConfig {
  if (content === null) return loaded;
  const mount: MountPt = {
    src: '', prefixSrcEnv: '', srcContent: new TextEncoder().encode(content), dst: '/etc/resolv.conf', prefixDstEnv: '',
    fstype: '', options: '', isBind: true, rw: false, isDir: false, mandatory: false, isSymlink: false, nosuid: true, nodev: true, noexec: true,
  };
  return { ...loaded, config: { ...loaded.config, mount: [...loaded.config.mount, mount] } };
}

function cloneFlags(c: Config): number {
  let flags = 0;
  if (c.cloneNewns) flags |= CLONE_NEWNS;
  if (c.cloneNewcgroup) flags |= CLONE_NEWCGROUP;
  if (c.cloneNewuts) flags |= CLONE_NEWUTS;
  if (c.cloneNewipc) flags |= CLONE_NEWIPC;
  if (c.cloneNewuser) flags |= CLONE_NEWUSER;
  if (c.cloneNewpid) flags |= CLONE_NEWPID;
  if (sharesNoNetwork(c)) flags |= CLONE_NEWNET;
  if (c.cloneNewtime) flags |= CLONE_NEWTIME;
  // A negative value keeps the bit test above for flags >= 2^31 honest under JS bit operations.
  return flags >>> 0;
}

function personality(c: Config): number {
  return (
    (c.personaAddrCompatLayout ? PERSONALITY.addrCompatLayout : 0) |
    (c.personaMmapPageZero ? PERSONALITY.mmapPageZero : 0) |
    (c.personaReadImpliesExec ? PERSONALITY.readImpliesExec : 0) |
    (c.personaAddrLimit3gb ? PERSONALITY.addrLimit3gb : 0) |
    (c.personaAddrNoRandomize ? PERSONALITY.addrNoRandomize : 0)
  );
}

/** Capability numbers, each once (a config may name one several times). */
function capNumbers(loaded: LoadedConfig): number[] {
  const numbers = loaded.config.cap.map((name, i) => {
    const n = capabilityNumber(name);
    if (n === undefined) {
      throw fieldProblem(loaded, [`cap.${i}`], `unknown capability '${name}'`, 'use the kernel names, e.g. CAP_NET_BIND_SERVICE (see `man 7 capabilities`)');
    }
    return n;
  });
  return [...new Set(numbers)];
}

/** nsjail's max_cpus: that many CPUs picked at random from the allowed set (null = all). */
function pickCpus(loaded: LoadedConfig, host: HostFacts): number[] | null {
  const { maxCpus } = loaded.config;
  if (maxCpus === 0) return null;
  const allowed = host.allowedCpus();
  if (maxCpus >= allowed.length) return null;
  const high = allowed.find((cpu) => cpu >= PLAN_LIMITS.cpus);
  if (high !== undefined) {
    throw fieldProblem(
      loaded,
      ['max_cpus'],
      `this process may run on CPU ${high}, but jail pins only to CPUs 0..${PLAN_LIMITS.cpus - 1}`,
      'drop max_cpus, or start jail with an affinity below CPU 1024 (taskset)',
    );
  }
  const pool = [...allowed];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, maxCpus).sort((a, b) => a - b);
}

/**
 * The addon's list bounds (PLAN_LIMITS), and no NUL in strings that did not come from the config
 * (the command after --, the caller's environment): the schema already refuses NULs in fields.
 */
function checkLimits(loaded: LoadedConfig, mountOps: number, argv: string[], envp: string[], passFds: number[]): void {
  const max = PLAN_LIMITS;
  if (mountOps > max.mountOps) {
    throw fieldProblem(loaded, ['mount'], `the mounts need ${mountOps} mount steps, more than the ${max.mountOps} a jail may have`, 'use fewer mount entries (bind a common parent directory instead of many files)');
  }
  if (passFds.length > max.passFds) {
    throw fieldProblem(loaded, ['pass_fd'], `${passFds.length} distinct fds are passed, more than ${max.passFds}`, 'pass fewer fds');
  }
  const lists: Array<[string, string[], string]> = [
    ['argv', argv, 'the command and its arguments (after -- or exec_bin.arg)'],
    ['envp', envp, 'the environment (keep_env and envar)'],
  ];
  for (const [name, list, what] of lists) {
    if (list.length > max.execStrings) {
      throw fieldProblem(loaded, [name === 'argv' ? 'exec_bin' : 'envar'], `${what} has ${list.length} entries, more than ${max.execStrings}`, 'pass fewer entries (a file can carry the rest)');
    }
    const i = list.findIndex((s) => s.includes('\0'));
    if (i >= 0) {
      throw new JailError('usage', `${name}[${i}] ${JSON.stringify(list[i])} contains a NUL byte, which execve cannot pass`, {
        hint: `remove it from ${what}`,
      });
    }
  }
}

export function buildPlan(loaded: LoadedConfig, options: PlanOptions): PlannedJail {
  const { config } = loaded;
  const env = options.env ?? process.env;
  const host = options.host ?? realHost(env);
  const warnings: string[] = [];

  if (config.cwd === '' || !config.cwd.startsWith('/')) {
    throw fieldProblem(loaded, ['cwd'], `'${config.cwd}' is not an absolute path inside the jail`);
  }
  if (config.cloneNewuts && Buffer.byteLength(config.hostname) > 64) {
    throw fieldProblem(loaded, ['hostname'], `'${config.hostname}' is longer than 64 bytes`);
  }
  if (config.mountProc && !config.cloneNewpid && config.cloneNewuser && config.cloneNewns) {
    // procfs may only be mounted by a process with CAP_SYS_ADMIN over the PID namespace it
    // shows; in a user namespace that is only true of a new PID namespace.
    throw fieldProblem(
      loaded,
      ['mount_proc', 'clone_newpid'],
      'a fresh /proc needs a PID namespace of its own when the jail has a user namespace',
      'keep the PID namespace, or add --disable_proc (or bind the host /proc read-only: -R /proc)',
    );
  }

  const passFds = [...new Set(config.passFd.filter((fd) => fd > 2))].sort((a, b) => a - b);
  const ids = planIds(loaded, host);
  const network = planNetwork(loaded, undefined, host.euid);
  const mounts = planMounts(withResolvConf(loaded, network.resolvConf), host, env);
  const canRaiseLimits = !config.cloneNewuser && host.euid === 0;
  const rlimits = planRlimits(loaded, host, canRaiseLimits);
  const environment = buildEnvironment(config, env);
  environment.envp.push(...network.env);
  const useExecFd = config.executeFd || config.execBin?.execFd === true;
  const cmd = options.command === null ? { path: '', argv: [] } : resolveCommand(config, options.command);
  let execPath = '';
  if (options.command !== null) {
    // --execute_fd opens the binary on the host, before the jail exists: look it up there.
    execPath = useExecFd
      ? path.resolve(options.cwd ?? process.cwd(), lookupCommand(cmd.path, [], env, [{ hostPath: '/', jailPath: '/' }], host))
      : lookupCommand(cmd.path, environment.envp, env, mounts.binds, host);
  }
  warnings.push(...ids.warnings, ...mounts.warnings, ...network.warnings);
  if (config.seccompUnotifyReport && !config.seccompUnotify) {
    warnings.push(`seccomp_unotify_report '${config.seccompUnotifyReport}' is set without seccomp_unotify: nothing is notified, so no report is written (add --seccomp_unotify, as in nsjail)`);
  }
  checkLimits(loaded, mounts.ops.length, cmd.argv, environment.envp, passFds);
  const cgroup = planCgroup(loaded, host);
  if (!config.cloneNewpid && config.mode === 'EXECVE') {
    // The -Me launcher waits for the jail's init only; without a PID namespace the init's end
    // does not end the rest.
    throw fieldProblem(
      loaded,
      ['clone_newpid', 'mode'],
      '-Me (execve mode) needs a PID namespace: without one, processes the program starts would outlive it and its time limit',
      'keep the PID namespace (drop --disable_clone_newpid), or use the default mode (-Mo)',
    );
  }
  if (!config.cloneNewpid && cgroup === null) {
    // Without a PID namespace the jail's processes are found only through its cgroup: a process
    // that calls setsid leaves the process group, and would outlive the time limit and jail.
    throw fieldProblem(
      loaded,
      ['clone_newpid'],
      'without a PID namespace jail needs a cgroup to find and stop every process the program starts, and it cannot create one here',
      'keep the PID namespace (drop --disable_clone_newpid), or run where jail can create cgroups (as root, or in a delegated cgroup v2 subtree)',
    );
  }

  const plan: JailPlan = {
    version: PLAN_VERSION,
    cloneFlags: cloneFlags(config),
    idmap: ids.idmap,
    uid: ids.uid,
    gid: ids.gid,
    groups: ids.groups,
    hostname: config.cloneNewuts ? config.hostname : null,
    loopbackUp: sharesNoNetwork(config) && !config.ifaceNoLo,
    cpus: pickCpus(loaded, host),
    coreScheduling: config.useCoreScheduling,
    rootDir: config.cloneNewns ? scratchLayout(host.scratchDir()).root : '',
    mounts: mounts.ops,
    cwd: config.cwd,
    rlimits,
    caps: { keepAll: config.keepCaps, keep: config.keepCaps ? [] : capNumbers(loaded), drop: config.keepCaps ? network.dropCaps : [] },
    noNewPrivs: !config.disableNoNewPrivs,
    personality: personality(config),
    disableTsc: config.disableTsc,
    niceLevel: config.niceLevel,
    oomScoreAdj: config.oomScoreAdj ?? null,
    setsid: !config.skipSetsid,
    devNullFds: config.silent ? [0, 1, 2] : config.stderrToNull ? [2] : [],
    deathSignal: SIGKILL,
    cloneVm: mayShareMemory(config, ids, host, cgroup),
    seccomp: planSeccomp(loaded, options.filter ?? null, network.runtime?.link != null),
    cgroup,
    network: network.native,
    exec: { path: execPath, argv: cmd.argv, envp: environment.envp },
  };
  return {
    plan,
    mounts: mounts.entries,
    execFdPath: useExecFd ? execPath : null,
    passFds,
    warnings,
    unsetEnv: environment.unset,
    network: network.runtime,
    notifiesSyscalls: config.seccompUnotify || options.filter?.usesUserNotif === true,
    unotifyReport: config.seccompUnotify ? { file: config.seccompUnotifyReport ? path.resolve(options.cwd ?? process.cwd(), config.seccompUnotifyReport) : null } : null,
  };
}
