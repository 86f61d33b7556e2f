/**
 * A box as one jail: the nsjail-field config its supervisor runs (README "Boxes" lists what a box
 * looks like inside). The init (native/box_init.cc) is the jail's program, executed from a
 * descriptor (exec_fd) so that it needs no place in the box's root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import { builtProgram, loadAddon } from '../native/addon';
import { POLICY_DIR } from '../run';
import { BOX_HOME, BOX_UID, WORKSPACE } from './layout';
import { CACHE_DIRS } from './profiles';
import type { BoxPaths, BoxRecord } from './store';
import { stateRoot } from './state-dir';

export const DEFAULT_SECCOMP_POLICY = path.join(POLICY_DIR, 'default-deny.policy');

/** statfs f_type of overlayfs. */
const OVERLAYFS_MAGIC = 0x794c7630;

/** The host's system directories a box without an image sees, read-only. */
const HOST_SYSTEM = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];
/** Mount points a box's root needs, made in its base layer so that they are not "changes". */
const MOUNT_POINTS = ['proc', 'dev', 'tmp', 'workspace', 'home/user', ...HOST_SYSTEM.map((d) => d.slice(1))];

export function cacheDir(record: BoxRecord, cache: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateRoot(env), 'caches', record.profile ?? 'default', cache);
}

/** Makes the directories the box's mounts need on the host, owned by the box's user where it writes. */
/**
 * The overlay is mounted with the box user's host id, which (as root) is not ours: it must be able
 * to pass through every directory down to the box's, or the mount fails with a bare EACCES.
 */
function checkReachable(record: BoxRecord, paths: BoxPaths): void {
  for (let dir = paths.dir; ; dir = path.dirname(dir)) {
    const st = fs.statSync(dir);
    const bit = st.uid === record.hostUid ? 0o100 : st.gid === record.hostGid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) {
      throw new JailError('setup', `box '${record.name}': its user (host uid ${record.hostUid}) cannot pass through ${dir} (mode ${(st.mode & 0o777).toString(8)}), so its root cannot be mounted`, {
        hint: `chmod o+x ${dir}, or set JAIL_STATE_DIR to a directory others may pass through`,
      });
    }
    if (dir === '/') return;
  }
}

export function prepareLayers(record: BoxRecord, paths: BoxPaths, env: NodeJS.ProcessEnv = process.env): void {
  checkReachable(record, paths);
  const { upper, work } = paths.layer(record.persistent);
  // The box user passes through run/ (0711: not list it) and owns its layers; box.json stays ours.
  fs.mkdirSync(paths.run, { recursive: true, mode: 0o711 });
  // upper is the root directory the box sees: the user's, 0755 (as root, an image's own files
  // stay root's). The user's home is part of it (so `diff` shows what the box put there), made
  // only while upper is new and still ours: an existing upper is the box user's to change, and
  // root must not follow a link planted there (mkdir and chown through `upper/home -> /etc`).
  if (!fs.existsSync(upper)) {
    const home = path.join(upper, BOX_HOME);
    fs.mkdirSync(home, { recursive: true, mode: 0o755 });
    fs.chownSync(home, record.hostUid, record.hostGid);
    fs.chownSync(upper, record.hostUid, record.hostGid);
  }
  ownedDir(work, record, 0o700);
  if (record.image === null) {
    for (const d of MOUNT_POINTS) fs.mkdirSync(path.join(paths.base, d), { recursive: true, mode: 0o755 });
  }
  for (const c of record.caches) {
    const dir = cacheDir(record, c, env);
    fs.mkdirSync(path.dirname(path.dirname(dir)), { recursive: true, mode: 0o711 });
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o711 });
    ownedDir(dir, record, 0o700);
  }
}

/** A directory of the box user's, made if missing. */
function ownedDir(dir: string, record: BoxRecord, mode: number): void {
  if (fs.existsSync(dir)) return;
  fs.mkdirSync(dir, { recursive: true, mode });
  fs.chownSync(dir, record.hostUid, record.hostGid);
}

interface MountSpec {
  [field: string]: unknown;
}

function bind(src: string, dst: string, rw: boolean, extra: MountSpec = {}): MountSpec {
  return { src, dst, is_bind: true, rw, nosuid: true, nodev: true, ...extra };
}

function protectMounts(record: BoxRecord): MountSpec[] {
  const ws = record.workspace;
  if (!ws) return [];
  const out: MountSpec[] = [];
  for (const rel of record.protect.readOnly) out.push(bind(path.join(ws.path, rel), path.join(WORKSPACE, rel), false, { mandatory: false }));
  for (const rel of record.protect.hidden) {
    let isDir = false;
    try {
      isDir = fs.lstatSync(path.join(ws.path, rel)).isDirectory();
    } catch {
      continue; // nothing there to hide
    }
    out.push(isDir ? { dst: path.join(WORKSPACE, rel), fstype: 'tmpfs', options: 'size=4096,mode=0555', is_dir: true } : bind('/dev/null', path.join(WORKSPACE, rel), false));
  }
  return out;
}

/** The host fds a box's init is given: its control socket, its note file, the starter's pipe (-1: none). */
export interface InitFds {
  control: number;
  note: number;
  ready: number;
}

/** The jail config (nsjail field names) of a box whose init gets `fds`. */
export function boxJailConfig(record: BoxRecord, paths: BoxPaths, lowerDir: string, fds: InitFds, mode: 'ONCE' | 'EXECVE', env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const { upper, work } = paths.layer(record.persistent);
  // overlayfs cannot keep its upper layer on overlayfs (a container's root, say): say so here
  // rather than let the mount fail with EINVAL.
  if (loadAddon().fsType(paths.dir) === OVERLAYFS_MAGIC) {
    throw new JailError('usage', `the box's root cannot be mounted: its state directory ${paths.dir} is on overlayfs, which cannot hold an overlay's upper layer`, {
      hint: 'set JAIL_STATE_DIR to a directory on ext4, xfs, btrfs or tmpfs (e.g. a volume, or /dev/shm)',
    });
  }
  // overlayfs splits its options at ',' and its layer lists at ':'.
  const bad = [lowerDir, upper, work].find((p) => /[,:\\]/.test(p));
  if (bad !== undefined) throw new JailError('usage', `the box's root cannot be mounted from '${bad}': overlayfs cannot take a path with ',', ':' or '\\'`, { hint: 'set JAIL_STATE_DIR (or XDG_STATE_HOME) to a path without them' });
  // A user namespace mounts overlayfs with user.* xattrs only (userxattr); root's layers use trusted.*.
  const userxattr = process.getuid?.() === 0 ? '' : ',userxattr';
  const mount: MountSpec[] = [{ src: 'overlay', dst: '/', fstype: 'overlay', options: `lowerdir=${lowerDir},upperdir=${upper},workdir=${work}${userxattr}`, rw: true }];
  // Only what this host has (/lib32, /libx32 and /lib64 vary by architecture and distribution).
  if (record.image === null) for (const d of HOST_SYSTEM) if (fs.existsSync(d)) mount.push(bind(d, d, false));
  mount.push(
    { dst: '/dev', fstype: 'tmpfs', options: 'size=65536,mode=0755', rw: true, is_dir: true, nosuid: true, noexec: true },
    ...['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((d) => ({ src: `/dev/${d}`, dst: `/dev/${d}`, is_bind: true, rw: true })),
    // The box's own terminals: `jail box shell` opens its pty here (src/box/files.ts), so the
    // program's terminal has a name in the box (tty, ssh, sudo, gpg need one); none of the host's
    // terminals is in this instance.
    { dst: '/dev/pts', fstype: 'devpts', options: 'newinstance,ptmxmode=0666,mode=0620', rw: true, is_dir: true, nosuid: true, noexec: true },
    { src: 'pts/ptmx', dst: '/dev/ptmx', is_symlink: true },
    { dst: '/dev/shm', fstype: 'tmpfs', options: 'size=268435456,mode=1777', rw: true, is_dir: true, nosuid: true, nodev: true },
    { dst: '/tmp', fstype: 'tmpfs', options: 'size=1073741824,mode=1777', rw: true, is_dir: true, nosuid: true, nodev: true },
  );
  if (record.workspace) mount.push(bind(record.workspace.path, WORKSPACE, !record.workspace.readOnly), ...protectMounts(record));
  for (const c of record.caches) mount.push(bind(cacheDir(record, c, env), path.join(BOX_HOME, CACHE_DIRS[c]), true));

  const { memoryBytes, cpus, pids } = record.resources;
  const id = (host: number) => [{ inside_id: String(BOX_UID), outside_id: String(host), count: 1 }];
  return {
    name: `box-${record.name}`,
    mode,
    hostname: record.name,
    cwd: record.workspace ? WORKSPACE : BOX_HOME,
    time_limit: 0,
    uidmap: id(record.hostUid),
    gidmap: id(record.hostGid),
    mount,
    mount_proc: true,
    keep_env: false,
    envar: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOME=${BOX_HOME}`],
    rlimit_as_type: 'INF',
    rlimit_fsize_type: 'INF',
    rlimit_cpu_type: 'INF',
    rlimit_nofile: 4096,
    rlimit_nproc_type: 'SOFT',
    net: record.network === 'full' ? 'internet' : record.network,
    allow: record.allow,
    publish: record.publish,
    ...(memoryBytes !== null ? { cgroup_mem_max: memoryBytes } : {}),
    ...(pids !== null ? { cgroup_pids_max: pids } : {}),
    ...(cpus !== null ? { cgroup_cpu_ms_per_sec: Math.round(cpus * 1000) } : {}),
    seccomp_policy_file: record.seccompPolicy,
    pass_fd: [fds.control, fds.note, ...(fds.ready >= 0 ? [fds.ready] : [])],
    exec_bin: {
      path: builtProgram('jail_box_init'),
      arg: ['--control', String(fds.control), '--note', String(fds.note), '--idle', String(record.idleSeconds), ...(fds.ready >= 0 ? ['--ready', String(fds.ready)] : [])],
      exec_fd: true,
    },
  };
}
