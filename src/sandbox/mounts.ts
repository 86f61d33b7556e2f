/**
 * The jail's filesystem: Config mounts -> ordered mount ops (nsjail's layout).
 *
 * The new root is a fresh tmpfs assembled at a host scratch directory inside the child's private
 * mount namespace; `--chroot DIR` is a bind of DIR at "/" placed first; /proc (when on) comes
 * last; then pivot_root and detach the old root.
 *
 * Deliberate differences from nsjail, all for safety (docs/nsjail-differences.md):
 * - A read-only bind is made read-only at once and recursively (mount_setattr AT_RECURSIVE), so
 *   its submounts (/sys, /dev, ... under a bound /) are read-only too, and creating a missing
 *   mount point inside it fails with EROFS instead of creating it on the host.
 * - Every bind is nodev, recursively, unless its source is itself a device node: read-only does
 *   not stop I/O on a device, so under `--chroot /` the host's /dev/kmsg, /dev/kvm, /dev/net/tun
 *   would be usable. When the host's /dev is what the jail sees at /dev, the harmless nodes
 *   (null, zero, full, random, urandom, tty) are bound on top of it one by one.
 * - A bind source (and --chroot) is resolved here, following only links no jail could have
 *   written (host-path.ts); the plan carries the resolved path and the child mounts exactly it.
 * - Mounts asked for without a mount namespace are an error (nsjail ignores them).
 */
import * as path from 'node:path';
import { effectiveMounts } from '../config/mounts';
import { fieldProblem } from '../config/finish';
import type { Config, LoadedConfig, MountPt } from '../config/types';
import { scratchLayout, type HostFacts } from './host';
import { resolveHostPath, type HostEntry } from './host-path';
import type { MountEntry, MountOp } from './plan';
import {
  MOUNT_ATTR_NODEV,
  MOUNT_ATTR_NOEXEC,
  MOUNT_ATTR_NOSUID,
  MOUNT_ATTR_RDONLY,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_BIND,
  MS_REC,
} from './kernel';

/** A host directory or file seen inside the jail at another path (a bind mount, by its two paths). */
export interface Bind {
  hostPath: string;
  jailPath: string;
}

export interface MountPlan {
  ops: MountOp[];
  entries: MountEntry[];
  /** Bind mounts in mount order (later ones cover earlier ones). */
  binds: Bind[];
  warnings: string[];
}

/** A config mount in plan order, with the config key its spans live under. */
interface Entry {
  mount: MountPt;
  spanKey: string;
}

/** An entry with its paths worked out, as each kind's planner takes it. */
interface ResolvedEntry extends Entry {
  /** "mount #2 /usr -> /usr (bind, ro)", for messages and the plan's MountEntry. */
  text: string;
  /** The source with its env prefix (binds and symlinks) or as written. */
  src: string;
  /** The destination inside the jail, normalised. */
  jailPath: string;
  /** The destination under the scratch root, where the child creates it before pivot_root. */
  target: string;
  origin: EntryOrigin;
}

/** The `ref` and `optional` of an op: which entry it carries out, and whether it may fail. */
type OpOrigin = Pick<MountOp, 'ref' | 'optional'>;
/** Those of an op on behalf of entry `ref`. */
type EntryOrigin = OpOrigin & { ref: number };

/** The bind that shows the host's /dev at /dev: where its ops end, and its entry. */
interface HostDevView {
  at: number;
  origin: EntryOrigin;
}

/** One planMounts call: its inputs, the ops so far, and what later steps need to know of them. */
interface MountBuilder {
  loaded: LoadedConfig;
  host: HostFacts;
  env: NodeJS.ProcessEnv;
  root: string;
  contentDir: string;
  ops: MountOp[];
  /** Read-only remounts of fresh filesystems, applied after pivot_root. */
  afterPivot: MountOp[];
  binds: Bind[];
  warnings: string[];
  /** An entry mounts over the jail's "/" itself. */
  rootCovered: boolean;
  /** Set while the jail's /dev is the host's, as far as the entries so far go. */
  hostDev: HostDevView | null;
}

/** Ops jail adds itself, not on behalf of an entry. */
const INTERNAL: OpOrigin = { ref: null, optional: false };
const ROOT_TMPFS_OPTIONS = 'size=16777216,mode=0755';
/** Device nodes a program expects and that reach nothing of the host's: kept usable in a host /dev. */
const HARMLESS_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const DIR_MODE = 0o711;
const FILE_MODE = 0o644;

/**
 * The entries in nsjail's order (chroot bind, the config's mounts, /proc) with the config key
 * their spans live under. /proc additionally gets nosuid, nodev and noexec: nothing in it is
 * meant to be executed or to be a device.
 */
function collectEntries(config: Config): Entry[] {
  const mounts = effectiveMounts(config);
  const hasChroot = config.chroot !== undefined;
  return mounts.map((mount, i) => {
    if (hasChroot && i === 0) return { mount, spanKey: 'chroot' };
    if (config.mountProc && i === mounts.length - 1) {
      return { mount: { ...mount, src: 'proc', nosuid: true, nodev: true, noexec: true }, spanKey: 'mount_proc' };
    }
    return { mount, spanKey: `mount.${i - (hasChroot ? 1 : 0)}` };
  });
}

function withEnvPrefix(value: string, envName: string, env: NodeJS.ProcessEnv, field: string, loaded: LoadedConfig): string {
  if (envName === '') return value;
  const prefix = env[envName];
  if (prefix === undefined) {
    throw fieldProblem(loaded, [field], `environment variable ${envName} is not set`, `export ${envName} before running jail, or remove the prefix`);
  }
  return prefix + value;
}

function describe(index: number, m: MountPt, src: string, dst: string): string {
  let kind: string;
  if (m.isSymlink) kind = 'symlink';
  else if (m.srcContent !== undefined) kind = 'file content';
  else if (m.isBind) kind = 'bind';
  else kind = m.fstype || 'mount';
  const from = m.isSymlink || m.isBind ? src : m.srcContent !== undefined ? '(content)' : m.fstype || src || 'none';
  return `mount #${index} ${from} -> ${dst} (${kind}, ${m.rw ? 'rw' : 'ro'})`;
}

/** The mount_setattr bits for an entry's ro/nosuid/nodev/noexec; `nodev` forces nodev. */
function attrBits(m: MountPt, nodev = false): number {
  return (
    (m.rw ? 0 : MOUNT_ATTR_RDONLY) |
    (m.nosuid ? MOUNT_ATTR_NOSUID : 0) |
    (m.nodev || nodev ? MOUNT_ATTR_NODEV : 0) |
    (m.noexec ? MOUNT_ATTR_NOEXEC : 0)
  );
}

/**
 * A bind source (or --chroot) resolved on the host, or null for a missing optional one (with a
 * warning). A missing mandatory source, or one reached through a link a jail could have written,
 * is refused against the entry's `src`.
 */
function resolveSource(
  loaded: LoadedConfig,
  entry: { spanKey: string; text: string; src: string; mandatory: boolean },
  host: HostFacts,
  warnings: string[],
): { path: string; entry: HostEntry } | null {
  const { spanKey: k, text, src } = entry;
  const r = resolveHostPath(path.posix.resolve('/', src), host);
  if (r.kind === 'ok') return { path: r.path, entry: r.entry };
  if (r.kind === 'untrusted') {
    throw fieldProblem(
      loaded,
      [`${k}.src`],
      `${text}: the source '${src}' leads through the symbolic link ${r.link} -> ${r.target}, which a jail could have written (${r.reason})`,
      r.resolved === null
        ? 'jail follows only links that belong to root, in directories only root can write; the link leads nowhere, so remove it or name the real path'
        : `jail follows only links that belong to root, in directories only root can write; if ${r.resolved} is really what you mean, name it as the source instead`,
    );
  }
  if (!entry.mandatory) {
    warnings.push(`${text}: skipped, the source does not exist (mandatory: false)`);
    return null;
  }
  throw fieldProblem(
    loaded,
    [`${k}.src`],
    `${text}: the source '${src}' does not exist on the host`,
    'create it, fix the path, or set mandatory: false to skip it when missing',
  );
}

const isDevice = (e: HostEntry) => e.type === 'chr' || e.type === 'blk';

function flagBits(m: MountPt): number {
  return (m.nosuid ? MS_NOSUID : 0) | (m.nodev ? MS_NODEV : 0) | (m.noexec ? MS_NOEXEC : 0);
}

/** Joins a jail path under the scratch root; normalisation keeps ".." from climbing out. */
function under(root: string, jailPath: string): string {
  const rel = path.posix.normalize('/' + jailPath);
  return rel === '/' ? root : root + rel;
}

/** Without a mount namespace only --chroot is honoured; /proc is skipped like nsjail does. */
function planWithoutMountNamespace(loaded: LoadedConfig, entries: Entry[], host: HostFacts): MountPlan {
  const chroot = loaded.config.chroot;
  const explicit = entries.filter((e) => e.spanKey.startsWith('mount.'));
  if (explicit.length > 0) {
    throw fieldProblem(
      loaded,
      [explicit[0].spanKey, 'clone_newns'],
      `mounts need a mount namespace, but clone_newns is off (${explicit.length} mount entries)`,
      'drop --disable_clone_newns, or remove the mount entries',
    );
  }
  const warnings: string[] = [];
  if (chroot === undefined) return { ops: [], entries: [], binds: [{ hostPath: '/', jailPath: '/' }], warnings };
  const text = `chroot ${chroot}`;
  // Mandatory, so never null: a missing directory throws.
  const dir = resolveSource(loaded, { spanKey: 'chroot', text, src: chroot, mandatory: true }, host, warnings)!;
  return {
    ops: [{ op: 'chroot', path: dir.path, ref: 0, optional: false }],
    entries: [{ describe: text, spanKey: 'chroot' }],
    binds: [{ hostPath: dir.path, jailPath: '/' }],
    warnings,
  };
}

/** The entry's source and destination with their env prefixes; the destination must be absolute. */
function resolveEntry(b: MountBuilder, entry: Entry, index: number): ResolvedEntry {
  const { mount: m, spanKey: k } = entry;
  const src = m.isSymlink || m.isBind ? withEnvPrefix(m.src, m.prefixSrcEnv, b.env, `${k}.prefix_src_env`, b.loaded) : m.src;
  const dst = withEnvPrefix(m.dst, m.prefixDstEnv, b.env, `${k}.prefix_dst_env`, b.loaded);
  const text = describe(index + 1, m, src, dst);
  if (!dst.startsWith('/')) {
    throw fieldProblem(b.loaded, [`${k}.dst`], `${text}: the destination must be an absolute path inside the jail`);
  }
  const origin = { ref: index, optional: !m.mandatory };
  return { ...entry, text, src, jailPath: path.posix.normalize(dst), target: under(b.root, dst), origin };
}

function mkdirs(b: MountBuilder, e: ResolvedEntry, dir: string): void {
  b.ops.push({ op: 'mkdirs', path: dir, mode: DIR_MODE, ...e.origin });
}

/** The mount point: the directory itself, or an empty file in its (created) parent. */
function mountPoint(b: MountBuilder, e: ResolvedEntry, isDir: boolean): void {
  if (isDir) return mkdirs(b, e, e.target);
  mkdirs(b, e, path.posix.dirname(e.target));
  b.ops.push({ op: 'mkfile', path: e.target, mode: FILE_MODE, ...e.origin });
}

/** mount_setattr of `attrSet` on the entry's target, when there is any bit to set. */
function setAttrs(b: MountBuilder, e: ResolvedEntry, attrSet: number, recursive: boolean): void {
  if (attrSet !== 0) b.ops.push({ op: 'setattr', target: e.target, attrSet, attrClr: 0, recursive, ...e.origin });
}

/** What an entry at "/" or "/dev" means for the root's read-only remount and the host /dev view. */
function cover(b: MountBuilder, jailPath: string, hostDev: HostDevView | null): void {
  if (jailPath === '/') b.rootCovered = true;
  if (jailPath === '/' || jailPath === '/dev') b.hostDev = hostDev;
}

/**
 * src_content files are written to a private tmpfs at the content dir and bound into place; that
 * tmpfs disappears with the old root at pivot_root.
 */
function planContentDir(b: MountBuilder, entries: Entry[]): void {
  if (!entries.some((e) => e.mount.srcContent !== undefined)) return;
  const bytes = entries.reduce((n, e) => n + (e.mount.srcContent?.length ?? 0), 0);
  const size = Math.max(65536, bytes * 2 + entries.length * 4096);
  b.ops.push({ op: 'mount', source: 'tmpfs', target: b.contentDir, fstype: 'tmpfs', flags: 0, data: `size=${size},mode=0755`, ...INTERNAL });
}

function planSymlink(b: MountBuilder, e: ResolvedEntry): void {
  mkdirs(b, e, path.posix.dirname(e.target));
  b.ops.push({ op: 'symlink', target: e.src, path: e.target, ...e.origin });
}

function planFileContent(b: MountBuilder, e: ResolvedEntry, content: Uint8Array): void {
  const file = path.join(b.contentDir, `content.${e.origin.ref}`);
  b.ops.push({ op: 'write', path: file, contentBase64: Buffer.from(content).toString('base64'), mode: FILE_MODE, ...e.origin });
  mountPoint(b, e, false);
  b.ops.push({ op: 'mount', source: file, target: e.target, fstype: null, flags: MS_BIND, data: null, ...e.origin });
  setAttrs(b, e, attrBits(e.mount), false);
}

function planBind(b: MountBuilder, e: ResolvedEntry): void {
  const m = e.mount;
  const source = resolveSource(b.loaded, { spanKey: e.spanKey, text: e.text, src: e.src, mandatory: m.mandatory }, b.host, b.warnings);
  if (source === null) return;
  const srcIsDir = source.entry.type === 'dir';
  const isDir = m.isDir ?? srcIsDir;
  if (isDir && !srcIsDir) {
    throw fieldProblem(b.loaded, [`${e.spanKey}.is_dir`], `${e.text}: the source '${e.src}' is not a directory, but is_dir is set`);
  }
  mountPoint(b, e, isDir);
  b.ops.push({ op: 'mount', source: source.path, target: e.target, fstype: null, flags: MS_BIND | MS_REC, data: null, ...e.origin });
  // Only a bind of a device node itself may be used as a device (read-only does not stop it).
  setAttrs(b, e, attrBits(m, !isDevice(source.entry)), true);
  b.binds.push({ hostPath: source.path, jailPath: e.jailPath });
  const showsHostDev = path.posix.join(source.path, path.posix.relative(e.jailPath, '/dev')) === '/dev';
  cover(b, e.jailPath, showsHostDev ? { at: b.ops.length, origin: e.origin } : null);
}

/**
 * A fresh filesystem (tmpfs, proc, ...): mounted writable, made read-only after pivot_root so
 * later mounts can still create their mount points inside it.
 */
function planFreshFs(b: MountBuilder, e: ResolvedEntry): void {
  const m = e.mount;
  mountPoint(b, e, m.isDir !== false);
  const fstype = m.fstype || null;
  b.ops.push({ op: 'mount', source: e.src || 'none', target: e.target, fstype, flags: flagBits(m), data: m.options || null, ...e.origin });
  if (!m.rw) b.afterPivot.push({ op: 'remount', target: e.jailPath, flags: MS_RDONLY | flagBits(m), ...e.origin });
  cover(b, e.jailPath, null);
}

/**
 * Binds the harmless device nodes over the host /dev the jail sees, right after the bind that
 * shows it, so later mounts under /dev still cover them.
 */
function bindHarmlessDevices(b: MountBuilder, view: HostDevView): void {
  const nodes = HARMLESS_DEVICES.map((name) => `/dev/${name}`).filter((p) => b.host.lstat(p)?.type === 'chr');
  const binds = nodes.map(
    (p): MountOp => ({ op: 'mount', source: p, target: under(b.root, p), fstype: null, flags: MS_BIND, data: null, ...view.origin }),
  );
  b.ops.splice(view.at, 0, ...binds);
}

/** The mount entries as mount ops, in the order the child runs them (see the file comment). */
export function planMounts(loaded: LoadedConfig, host: HostFacts, env: NodeJS.ProcessEnv): MountPlan {
  const config = loaded.config;
  const entries = collectEntries(config);
  if (!config.cloneNewns) return planWithoutMountNamespace(loaded, entries, host);

  const { root, contentDir } = scratchLayout(host.scratchDir());
  const b: MountBuilder = { loaded, host, env, root, contentDir, ops: [], afterPivot: [], binds: [], warnings: [], rootCovered: false, hostDev: null };
  // Nothing done in this namespace may propagate back to the host.
  b.ops.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS_REC | MS_PRIVATE, data: null, ...INTERNAL });
  b.ops.push({ op: 'mount', source: 'tmpfs', target: root, fstype: 'tmpfs', flags: 0, data: ROOT_TMPFS_OPTIONS, ...INTERNAL });
  planContentDir(b, entries);

  const described = entries.map((entry, index): MountEntry => {
    const e = resolveEntry(b, entry, index);
    const m = e.mount;
    if (m.isSymlink) planSymlink(b, e);
    else if (m.srcContent !== undefined) planFileContent(b, e, m.srcContent);
    else if (m.isBind) planBind(b, e);
    else planFreshFs(b, e);
    return { describe: e.text, spanKey: e.spanKey };
  });
  if (b.hostDev !== null) bindHarmlessDevices(b, b.hostDev);

  if (!b.rootCovered && !config.rw) b.ops.push({ op: 'remount', target: root, flags: MS_RDONLY, ...INTERNAL });
  b.ops.push(config.noPivotroot ? { op: 'moveRoot', newRoot: root, ...INTERNAL } : { op: 'pivot', newRoot: root, ...INTERNAL });
  if (config.noPivotroot) b.warnings.push('--no_pivotroot: the jail uses MS_MOVE + chroot, which a process with CAP_SYS_CHROOT can escape');
  b.ops.push(...b.afterPivot);
  return { ops: b.ops, entries: described, binds: b.binds, warnings: b.warnings };
}
