/**
 * nsjail's macvlan_iface and iface_own, host side: the supervisor (root) gives the jail host
 * interfaces after clone, while the jail's init still waits on its network gate.
 *
 *  1. In the supervisor's namespace, with iproute2: each iface_own interface is moved into the
 *     jail's namespace (`ip link set dev IF netns NS`), then the MACVLAN `vs` is made on
 *     macvlan_iface directly inside it (`ip link add link IF name vs [address MA] netns NS type
 *     macvlan mode MODE`), as nsjail does with libnl.
 *  2. Inside the jail's namespace (`nsenter --net=NS ip -batch -`): `vs` gets its address, goes up
 *     and gets the default route (nsjail's child does the same with ioctls).
 *
 * NS is the jail's network namespace opened once, synchronously, before any await: the pid is
 * the jail's init and cannot have been reaped yet (that needs the event loop), so no later step
 * can reach another process's namespace by a recycled pid. It is handed to iproute2 and nsenter
 * as fd 3 (/proc/self/fd/3).
 *
 * Why iproute2 rather than rtnetlink from the addon: this only runs as root, where iproute2 is
 * always there (it is also jail's CI dependency); every step fails in the kernel's words, which
 * the errors below pass on with the interface and a fix; and the jail's child (raw syscalls only)
 * stays as it is. It costs two short processes per jail (~5 ms).
 *
 * Nothing is undone here on failure: the caller closes the gate, the jail's init exits, and its
 * namespace goes with everything in it (`vs` is destroyed; moved interfaces follow the kernel's
 * rule for a dying namespace: physical ones go to the host's initial namespace, virtual ones
 * such as veth are destroyed).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import { MACVLAN_NAME, type IfacePlan } from './plan';

const STEP_TIMEOUT_MS = 5000;
/** Where the jail's namespace is, for iproute2 and nsenter (their fd 3). */
const NS_PATH = '/proc/self/fd/3';
const SBIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export const IPROUTE2_MISSING_HINT = 'install iproute2 (Debian/Ubuntu: apt install iproute2; Fedora: dnf install iproute), or point $JAIL_IP at ip';

/** Whether `file` may be executed by this process. */
export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A program on PATH, then in the usual sbin/bin directories (root's PATH may lack sbin under sudo or cron). */
export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [...(env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate) && fs.statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
  }
  return null;
}

/** One iproute2 step: its argv, what it does in words, and the interface it is about. */
export interface IfaceStep {
  what: string;
  iface: string;
  args: string[];
}

/** The steps in the supervisor's namespace, in nsjail's order (iface_own first, then the MACVLAN). */
export function hostSteps(plan: IfacePlan): IfaceStep[] {
  const steps: IfaceStep[] = plan.own.map((iface) => ({ what: `move host interface '${iface}' into the jail (iface_own)`, iface, args: ['link', 'set', 'dev', iface, 'netns', NS_PATH] }));
  const m = plan.macvlan;
  if (m) {
    steps.push({
      what: `create the jail's MACVLAN '${MACVLAN_NAME}' on host interface '${m.parent}' (macvlan_iface, mode ${m.mode})`,
      iface: m.parent,
      args: ['link', 'add', 'link', m.parent, 'name', MACVLAN_NAME, ...(m.mac ? ['address', m.mac] : []), 'netns', NS_PATH, 'type', 'macvlan', 'mode', m.mode],
    });
  }
  return steps;
}

/** The batch run inside the jail's namespace (one command a line), with each line's meaning. */
export function jailSteps(plan: IfacePlan): IfaceStep[] {
  const m = plan.macvlan;
  if (!m || !m.address) return [];
  const steps: IfaceStep[] = [
    { what: `give '${MACVLAN_NAME}' the address ${m.address.ip}/${m.address.prefix} (macvlan_vs_ip, macvlan_vs_nm)`, iface: MACVLAN_NAME, args: ['addr', 'add', `${m.address.ip}/${m.address.prefix}`, 'dev', MACVLAN_NAME] },
    { what: `bring '${MACVLAN_NAME}' up`, iface: MACVLAN_NAME, args: ['link', 'set', 'dev', MACVLAN_NAME, 'up'] },
  ];
  if (m.gateway) steps.push({ what: `add the default route via ${m.gateway} (macvlan_vs_gw)`, iface: MACVLAN_NAME, args: ['route', 'add', 'default', 'via', m.gateway, 'dev', MACVLAN_NAME] });
  return steps;
}

interface Ran {
  code: number | null;
  stderr: string;
}

function run(argv: string[], nsFd: number, input: string | null): Promise<Ran> {
  return new Promise((resolve) => {
    let stderr = '';
    let settled = false;
    const done = (r: Ran) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn(argv[0], argv.slice(1), { stdio: [input === null ? 'ignore' : 'pipe', 'ignore', 'pipe', nsFd], env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' } });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ code: null, stderr: `${stderr}no answer after ${STEP_TIMEOUT_MS} ms` });
    }, STEP_TIMEOUT_MS);
    child.stderr!.on('data', (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString();
    });
    child.once('error', (e) => done({ code: null, stderr: e.message }));
    child.once('close', (code) => done({ code, stderr }));
    if (input !== null) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

/** iproute2's message without its noise ("Command failed -:2", usage text). */
function said(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Command failed /.test(l) && !/^Usage:/.test(l))
    .slice(0, 2)
    .join('; ');
}

/** A failed step as an error with a fix. */
export function stepError(step: IfaceStep, stderr: string): JailError {
  const words = said(stderr) || 'failed';
  let hint: string;
  if (/Operation not permitted|Permission denied/i.test(stderr)) {
    hint = 'macvlan and iface_own need root (CAP_NET_ADMIN on the host): run jail as root, in the host\'s network namespace or one where it has CAP_NET_ADMIN';
  } else if (/Cannot find device|No such device/i.test(stderr) && step.iface !== MACVLAN_NAME) {
    hint = `there is no interface '${step.iface}' here: ip -br link lists them (it may already be in another jail)`;
  } else if (/Unknown device type|not supported/i.test(stderr)) {
    hint = 'this kernel has no MACVLAN support (CONFIG_MACVLAN, module macvlan)';
  } else if (/Invalid argument/i.test(stderr) && step.args[1] === 'add' && step.args[0] === 'link') {
    hint = `'${step.iface}' cannot carry a MACVLAN (it must be an Ethernet interface, not loopback, a tunnel or a MACVLAN in passthru mode)`;
  } else if (/Address already in use|File exists/i.test(stderr)) {
    hint = 'another interface on this host interface already has that MAC or name (another jail with the same macvlan_vs_ma?)';
  } else {
    hint = 'see ip-link(8); run with -v for the commands';
  }
  return new JailError('setup', `the jail's network: could not ${step.what}: ${words}`, { hint });
}

/**
 * Gives the jail its interfaces (see the top of this file). `nsFd` is the jail's namespace
 * (opened by the launch before the go byte: launch()'s netnsFd); `debug` gets each command. Rejects with a JailError naming the failed step.
 */
export async function setUpIfaces(plan: IfacePlan, nsFd: number, debug: (line: string) => void = () => {}): Promise<void> {
  const ip = process.env.JAIL_IP || findProgram('ip');
  if (!ip) throw new JailError('setup', 'macvlan and iface_own need iproute2\'s ip, which is not installed', { hint: IPROUTE2_MISSING_HINT });
  for (const step of hostSteps(plan)) {
    debug(`ip ${step.args.join(' ')}`);
    const r = await run([ip, ...step.args], nsFd, null);
    if (r.code !== 0) throw stepError(step, r.stderr);
  }
  const inside = jailSteps(plan);
  if (inside.length === 0) return;
  const nsenter = findProgram('nsenter');
  if (!nsenter) throw new JailError('setup', "configuring the jail's MACVLAN needs nsenter, which is not installed", { hint: 'install util-linux (it has nsenter)' });
  const batch = inside.map((s) => s.args.join(' ') + '\n').join('');
  debug(`nsenter --net=${NS_PATH} ip -batch - <<< ${JSON.stringify(batch)}`);
  const r = await run([nsenter, `--net=${NS_PATH}`, '--', ip, '-batch', '-'], nsFd, batch);
  if (r.code !== 0) {
    // ip -batch stops at the first failing line and names it: "Command failed -:2".
    const line = Number(/Command failed -:(\d+)/.exec(r.stderr)?.[1] ?? 0);
    const step = inside[line - 1] ?? { what: `configure '${MACVLAN_NAME}' in the jail's namespace`, iface: MACVLAN_NAME, args: [] };
    throw stepError(step, r.stderr);
  }
}
