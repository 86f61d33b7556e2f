/**
 * `jail doctor`: what jail can do on this machine or in this container, and for each thing that
 * does not work, the fix. Facts are read from /proc and /sys; what matters most is *tried*: a
 * default jail, one with a fresh /proc, one with cgroup limits, each a real run() of /bin/true,
 * so the answer is the kernel's, and a failure comes with the same sentence and hint a real run
 * would print.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { formatError } from './errors';
import { findPasta, PASTA_MISSING_HINT } from './net/link';
import { run } from './run';

export interface DoctorCheck {
  /** What was checked, e.g. "user namespaces". */
  name: string;
  /** true: works; false: does not (see fix); null: information only. */
  ok: boolean | null;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  /** A default jail (namespaces, pivot_root, seccomp-ready) runs here. */
  canRun: boolean;
  checks: DoctorCheck[];
}

/** The oldest kernel jail runs on (mount_setattr, 5.12); newer features (cgroup.kill, PIDFD_GET_INFO) have fallbacks. */
const MIN_KERNEL: [number, number] = [5, 12];

const CONTAINER_FIX =
  'Docker: --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined --cgroupns=private; ' +
  'podman: --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt unmask=ALL; ' +
  'net internet also needs --device /dev/net/tun; ' +
  'Kubernetes: securityContext.seccompProfile.type: Unconfined, procMount: Unmasked, and an AppArmor profile that allows user namespaces';

function read(p: string): string | null {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

function kernelCheck(): DoctorCheck {
  const release = os.release();
  const [major, minor] = release.split('.').map(Number);
  const ok = major > MIN_KERNEL[0] || (major === MIN_KERNEL[0] && minor >= MIN_KERNEL[1]);
  return ok
    ? { name: 'kernel', ok, detail: `Linux ${release}` }
    : { name: 'kernel', ok, detail: `Linux ${release} is older than ${MIN_KERNEL.join('.')}`, fix: `run jail on Linux ${MIN_KERNEL.join('.')} or newer` };
}

function userNamespaceCheck(root: boolean): DoctorCheck {
  const max = Number(read('/proc/sys/user/max_user_namespaces') ?? '1');
  const debian = read('/proc/sys/kernel/unprivileged_userns_clone')?.trim();
  const apparmor = read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')?.trim();
  if (max === 0) return { name: 'user namespaces', ok: false, detail: 'user.max_user_namespaces is 0', fix: 'sysctl -w user.max_user_namespaces=15000' };
  if (!root && debian === '0') {
    return { name: 'user namespaces', ok: false, detail: 'kernel.unprivileged_userns_clone is 0', fix: 'sysctl -w kernel.unprivileged_userns_clone=1, or run jail as root' };
  }
  if (!root && apparmor === '1') {
    return {
      name: 'user namespaces',
      ok: false,
      detail: 'kernel.apparmor_restrict_unprivileged_userns is 1',
      fix: 'sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give node an AppArmor profile that allows userns, or run jail as root',
    };
  }
  return { name: 'user namespaces', ok: true, detail: `allowed (user.max_user_namespaces ${max})` };
}

function seccompCheck(): DoctorCheck {
  const mode = /^Seccomp:\s*(\d)/m.exec(read('/proc/self/status') ?? '')?.[1];
  const actions = read('/proc/sys/kernel/seccomp/actions_avail')?.trim() ?? '';
  const missing = ['kill_process', 'errno', 'allow'].filter((a) => !actions.split(/\s+/).includes(a));
  if (actions === '' || missing.length > 0) {
    return { name: 'seccomp', ok: false, detail: `seccomp filters unavailable (actions: ${actions || 'none'})`, fix: 'use a kernel built with CONFIG_SECCOMP_FILTER' };
  }
  const under = mode === '2' ? '; this process already runs under a seccomp filter (a container profile?): jail stacks its own on top' : '';
  return { name: 'seccomp', ok: true, detail: `filters available (actions: ${actions})${under}` };
}

function landlockCheck(): DoctorCheck {
  const lsm = read('/sys/kernel/security/lsm');
  const on = lsm?.split(',').includes('landlock') ?? false;
  return { name: 'landlock', ok: null, detail: lsm === null ? 'unknown (securityfs not mounted)' : on ? 'enabled in the kernel (jail does not use it yet)' : 'not enabled' };
}

function containerCheck(): DoctorCheck | null {
  const engine = fs.existsSync('/.dockerenv') ? 'Docker' : fs.existsSync('/run/.containerenv') ? 'podman' : process.env.KUBERNETES_SERVICE_HOST ? 'Kubernetes' : null;
  if (engine === null) return null;
  return { name: 'container', ok: null, detail: `running inside ${engine}`, fix: `if the checks below fail: ${CONTAINER_FIX}` };
}

function cgroupFacts(): DoctorCheck {
  const mounts = (read('/proc/self/mountinfo') ?? '').split('\n').map((l) => l.split(' '));
  const cgroup = mounts.filter((f) => f[f.indexOf('-') + 1]?.startsWith('cgroup'));
  const describe = cgroup.map((f) => {
    const type = f[f.indexOf('-') + 1];
    const ro = f[5]?.split(',').includes('ro') ? ' (read-only)' : '';
    const controllers = type === 'cgroup' ? ` [${f[f.length - 1].split(',').filter((o) => !['rw', 'ro'].includes(o)).join(',')}]` : '';
    return `${f[4]} ${type}${controllers}${ro}`;
  });
  if (describe.length === 0) return { name: 'cgroup filesystems', ok: false, detail: 'none mounted', fix: 'mount cgroup2 on /sys/fs/cgroup' };
  return { name: 'cgroup filesystems', ok: null, detail: describe.join('; ') };
}

/** A real jail of /bin/true with these config fields; ok, or the error's words and hint. */
async function trial(name: string, config: Record<string, unknown>, fixIfFailed: string): Promise<DoctorCheck> {
  try {
    const r = await run({ config: { chroot: '/', time_limit: 10, ...config }, command: ['/bin/true'], env: { PATH: '/usr/bin:/bin' } });
    if (r.outcome === 'exited' && r.exitCode === 0) return { name, ok: true, detail: 'a jail of /bin/true ran' };
    return { name, ok: false, detail: r.error?.message ?? `the jail ended as ${r.outcome}`, fix: fixIfFailed };
  } catch (e) {
    return { name, ok: false, detail: formatError(e), fix: fixIfFailed };
  }
}

export async function doctor(): Promise<DoctorReport> {
  const root = process.geteuid?.() === 0;
  const checks: DoctorCheck[] = [];
  const container = containerCheck();
  if (container) checks.push(container);
  checks.push(kernelCheck(), userNamespaceCheck(root), seccompCheck(), landlockCheck(), cgroupFacts());
  const fix = container ? CONTAINER_FIX : 'see the message above';
  const basic = await trial('a default jail (user, mount, pid, net, uts, ipc, cgroup namespaces; pivot_root)', {}, fix);
  checks.push(basic);
  checks.push(await trial('a fresh /proc in the jail', { mount_proc: true }, container ? CONTAINER_FIX : 'bind the host /proc read-only instead (-R /proc), or add --disable_proc'));
  checks.push(
    await trial(
      'cgroup limits (memory, pids)',
      { cgroup_mem_max: 64 * 1024 * 1024, cgroup_pids_max: 64 },
      [
        root ? 'see the message above' : 'run as root, or in a delegated cgroup v2 subtree: systemd-run --user -p Delegate=yes --scope jail ...',
        container ? `in a container, a writable cgroup: ${CONTAINER_FIX}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    ),
  );
  const pasta = findPasta();
  checks.push(
    pasta === null
      ? { name: 'networked jails (--net internet, --allow, --publish)', ok: false, detail: 'pasta is not installed', fix: PASTA_MISSING_HINT }
      : await trial(`networked jails (--net internet, through ${pasta})`, { net: 'internet' }, 'see the message above'),
  );
  return { canRun: basic.ok === true, checks };
}

/** The report as text: one line per check, the fix indented below a failed one. */
export function formatDoctorReport(report: DoctorReport): string {
  const mark = (ok: boolean | null) => (ok === true ? 'ok  ' : ok === false ? 'FAIL' : 'info');
  const lines = report.checks.flatMap((c) => [`${mark(c.ok)} ${c.name}: ${c.detail.replace(/\n/g, '\n       ')}`, ...(c.fix && c.ok !== true ? [`     fix: ${c.fix}`] : [])]);
  lines.push(report.canRun ? 'jail can run here.' : 'jail cannot run here: fix the FAIL lines above.');
  return lines.join('\n') + '\n';
}
