/**
 * The jail's filesystem: Config mounts -> ordered mount ops (nsjail's layout, reference §3.3).
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
import type { MountOp } from './plan';
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

/** One user-facing mount, as error messages and `jail plan` describe it. */
export interface MountEntry {
  /** "#2 /usr -> /usr (bind, ro)" */
  describe: string;
  /** Key into the config's SpanMap. */
  spanKey: string;
}

/** A host directory or file seen inside the jail at another path (a bind mount). */
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

interface Entry {
  mount: MountPt;
  spanKey: string;
}

/** The bind that shows the host's /dev at /dev: where its ops end, and its entry. */
interface HostDevView {
  at: number;
  ref: { ref: number; optional: boolean };
}

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

export function planMounts(loaded: LoadedConfig, host: HostFacts, env: NodeJS.ProcessEnv): MountPlan {
  const config = loaded.config;
  const entries = collectEntries(config);
  const warnings: string[] = [];

  if (!config.cloneNewns) {
    // Only --chroot can be honoured without a mount namespace; /proc is skipped like nsjail does.
    const explicit = entries.filter((e) => e.spanKey.startsWith('mount.'));
    if (explicit.length > 0) {
      throw fieldProblem(
        loaded,
        [explicit[0].spanKey, 'clone_newns'],
        `mounts need a mount namespace, but clone_newns is off (${explicit.length} mount entries)`,
        'drop --disable_clone_newns, or remove the mount entries',
      );
    }
    if (config.chroot === undefined) return { ops: [], entries: [], binds: [{ hostPath: '/', jailPath: '/' }], warnings };
    const text = `chroot ${config.chroot}`;
    // Mandatory, so never null: a missing directory throws.
    const dir = resolveSource(loaded, { spanKey: 'chroot', text, src: config.chroot, mandatory: true }, host, warnings)!;
    return {
      ops: [{ op: 'chroot', path: dir.path, ref: 0, optional: false }],
      entries: [{ describe: text, spanKey: 'chroot' }],
      binds: [{ hostPath: dir.path, jailPath: '/' }],
      warnings,
    };
  }

  const { root, contentDir } = scratchLayout(host.scratchDir());
  const ops: MountOp[] = [];
  const deferred: MountOp[] = [];
  const described: MountEntry[] = [];
  const binds: Bind[] = [];
  const internal = { ref: null, optional: false };

  // Nothing done in this namespace may propagate back to the host.
  ops.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS_REC | MS_PRIVATE, data: null, ...internal });
  ops.push({ op: 'mount', source: 'tmpfs', target: root, fstype: 'tmpfs', flags: 0, data: ROOT_TMPFS_OPTIONS, ...internal });
  const contentBytes = entries.reduce((n, e) => n + (e.mount.srcContent?.length ?? 0), 0);
  if (entries.some((e) => e.mount.srcContent !== undefined)) {
    // src_content files are written to a private tmpfs at the content dir and bound into place;
    // that tmpfs disappears with the old root at pivot_root.
    const size = Math.max(65536, contentBytes * 2 + entries.length * 4096);
    ops.push({ op: 'mount', source: 'tmpfs', target: contentDir, fstype: 'tmpfs', flags: 0, data: `size=${size},mode=0755`, ...internal });
  }

  let rootCovered = false;
  /** Set while the jail's /dev is the host's, as far as the entries so far go. */
  let hostDev: HostDevView | null = null;
  entries.forEach((entry, index) => {
    const m = entry.mount;
    const k = entry.spanKey;
    const src = m.isSymlink || m.isBind ? withEnvPrefix(m.src, m.prefixSrcEnv, env, `${k}.prefix_src_env`, loaded) : m.src;
    const dst = withEnvPrefix(m.dst, m.prefixDstEnv, env, `${k}.prefix_dst_env`, loaded);
    const text = describe(index + 1, m, src, dst);
    described.push({ describe: text, spanKey: k });
    if (!dst.startsWith('/')) {
      throw fieldProblem(loaded, [`${k}.dst`], `${text}: the destination must be an absolute path inside the jail`);
    }
    const target = under(root, dst);
    const jailPath = path.posix.normalize(dst);
    const ref = { ref: index, optional: !m.mandatory };

    if (m.isSymlink) {
      ops.push({ op: 'mkdirs', path: path.posix.dirname(target), mode: DIR_MODE, ...ref });
      ops.push({ op: 'symlink', target: src, path: target, ...ref });
      return;
    }
    if (m.srcContent !== undefined) {
      const file = path.join(contentDir, `content.${index}`);
      ops.push({ op: 'write', path: file, contentBase64: Buffer.from(m.srcContent).toString('base64'), mode: FILE_MODE, ...ref });
      ops.push({ op: 'mkdirs', path: path.posix.dirname(target), mode: DIR_MODE, ...ref });
      ops.push({ op: 'mkfile', path: target, mode: FILE_MODE, ...ref });
      ops.push({ op: 'mount', source: file, target, fstype: null, flags: MS_BIND, data: null, ...ref });
      if (attrBits(m) !== 0) ops.push({ op: 'setattr', target, attrSet: attrBits(m), attrClr: 0, recursive: false, ...ref });
      return;
    }
    if (m.isBind) {
      const source = resolveSource(loaded, { spanKey: k, text, src, mandatory: m.mandatory }, host, warnings);
      if (source === null) return;
      const srcIsDir = source.entry.type === 'dir';
      const isDir = m.isDir ?? srcIsDir;
      if (isDir && !srcIsDir) {
        throw fieldProblem(loaded, [`${k}.is_dir`], `${text}: the source '${src}' is not a directory, but is_dir is set`);
      }
      if (isDir) {
        ops.push({ op: 'mkdirs', path: target, mode: DIR_MODE, ...ref });
      } else {
        ops.push({ op: 'mkdirs', path: path.posix.dirname(target), mode: DIR_MODE, ...ref });
        ops.push({ op: 'mkfile', path: target, mode: FILE_MODE, ...ref });
      }
      ops.push({ op: 'mount', source: source.path, target, fstype: null, flags: MS_BIND | MS_REC, data: null, ...ref });
      // Only a bind of a device node itself may be used as a device (read-only does not stop it).
      const attrs = attrBits(m, !isDevice(source.entry));
      if (attrs !== 0) ops.push({ op: 'setattr', target, attrSet: attrs, attrClr: 0, recursive: true, ...ref });
      binds.push({ hostPath: source.path, jailPath });
      if (jailPath === '/') rootCovered = true;
      if (jailPath === '/' || jailPath === '/dev') {
        hostDev = path.posix.join(source.path, path.posix.relative(jailPath, '/dev')) === '/dev' ? { at: ops.length, ref } : null;
      }
      return;
    }
    // A fresh filesystem (tmpfs, proc, ...): mounted writable, made read-only after pivot_root
    // so later mounts can still create their mount points inside it.
    if (m.isDir === false) {
      ops.push({ op: 'mkdirs', path: path.posix.dirname(target), mode: DIR_MODE, ...ref });
      ops.push({ op: 'mkfile', path: target, mode: FILE_MODE, ...ref });
    } else {
      ops.push({ op: 'mkdirs', path: target, mode: DIR_MODE, ...ref });
    }
    ops.push({ op: 'mount', source: src || 'none', target, fstype: m.fstype || null, flags: flagBits(m), data: m.options || null, ...ref });
    if (!m.rw) deferred.push({ op: 'remount', target: jailPath, flags: MS_RDONLY | flagBits(m), ...ref });
    if (jailPath === '/') rootCovered = true;
    if (jailPath === '/' || jailPath === '/dev') hostDev = null;
  });

  // (Assigned in the callbacks above, which TypeScript's narrowing does not follow.)
  const shown = hostDev as HostDevView | null;
  if (shown !== null) {
    // Right after the bind that shows the host's /dev, so later mounts under /dev still cover them.
    const { at, ref } = shown;
    const nodes = HARMLESS_DEVICES.map((name) => `/dev/${name}`).filter((p) => host.lstat(p)?.type === 'chr');
    ops.splice(at, 0, ...nodes.map((p): MountOp => ({ op: 'mount', source: p, target: under(root, p), fstype: null, flags: MS_BIND, data: null, ...ref })));
  }

  if (!rootCovered && !config.rw) {
    ops.push({ op: 'remount', target: root, flags: MS_RDONLY, ...internal });
  }
  ops.push(config.noPivotroot ? { op: 'moveRoot', newRoot: root, ...internal } : { op: 'pivot', newRoot: root, ...internal });
  if (config.noPivotroot) warnings.push('--no_pivotroot: the jail uses MS_MOVE + chroot, which a process with CAP_SYS_CHROOT can escape');
  ops.push(...deferred);
  return { ops, entries: described, binds, warnings };
}
