/**
 * Resolving a host path that a jail will see (a bind source, --chroot), and which symbolic links
 * may be followed on the way.
 *
 * Why: a workspace bound writable into one jail is often bound again into the next one. If the
 * first jail plants `project -> /home/me/.ssh` there, a later `-B /ws/project:/mnt` would hand
 * the second jail the user's keys. So a link is followed only when no jail could have written
 * it: the link belongs to root, and every directory from / down to the one holding it belongs
 * to root and is not writable by group or others. System links (`/lib -> usr/lib` on a
 * merged-/usr host, /etc/alternatives) pass; links under /tmp, home directories and workspaces
 * do not.
 *
 * Limits of the rule: a jail that runs as the host's real root (no user namespace, or uid 0
 * mapped to host root) with a writable bind of a root-owned directory can write root-owned links
 * there; nothing at plan time can tell such a link from one the administrator made. Do not give
 * such a jail a writable bind of anything later jails take sources from.
 *
 * The path resolved here contains no link at all; the child opens it with
 * openat2(RESOLVE_NO_SYMLINKS) and mounts that descriptor (native/mount.cc), so a component
 * swapped for a link between planning and launch makes the launch fail instead of following it.
 */
import * as path from 'node:path';

export type EntryType = 'dir' | 'file' | 'link' | 'chr' | 'blk' | 'other';

/** What lstat(2) says about a host path, as far as resolving it needs. */
export interface HostEntry {
  type: EntryType;
  uid: number;
  /** Permission bits (st_mode & 07777). */
  mode: number;
}

/** The two host reads resolution needs (HostFacts provides them). */
export interface HostPathReader {
  lstat(p: string): HostEntry | null;
  readlink(p: string): string | null;
}

export type HostPathResolution =
  /** `path` is `p` with every link replaced by its target; `entry` is what it names. */
  | { kind: 'ok'; path: string; entry: HostEntry }
  /** Some component does not exist, is not a directory, or the links loop. */
  | { kind: 'missing' }
  /** Resolution would cross `link` (pointing at `target`), which a jail could have written. */
  | { kind: 'untrusted'; link: string; target: string; reason: string; resolved: string | null };

/** Linux's limit on links followed while resolving one path (ELOOP beyond). */
const MAX_LINKS = 40;

/** Why the link at `link` may have been written by a jail, or null when it cannot have been. */
function distrust(link: string, entry: HostEntry, host: HostPathReader): string | null {
  if (entry.uid !== 0) return `the link belongs to uid ${entry.uid}, not root`;
  // The directory holding the link has no links in it (resolution so far replaced them).
  const dir = path.posix.dirname(link);
  const parts = dir.split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const d = '/' + parts.slice(0, i).join('/');
    const st = host.lstat(d);
    if (st === null) return `${d} cannot be read`;
    if (st.uid !== 0) return `${d} belongs to uid ${st.uid}, not root`;
    if ((st.mode & 0o022) !== 0) return `${d} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return null;
}

function walk(p: string, host: HostPathReader, trustAll: boolean): HostPathResolution {
  const pending = p.split('/').filter(Boolean).reverse();
  let current = '/';
  let entry = host.lstat('/');
  let links = 0;
  while (pending.length > 0) {
    const name = pending.pop() as string;
    if (name === '.') continue;
    if (name === '..') {
      current = path.posix.dirname(current);
      entry = host.lstat(current);
      continue;
    }
    if (entry === null || entry.type !== 'dir') return { kind: 'missing' };
    const next = path.posix.join(current, name);
    const st = host.lstat(next);
    if (st === null) return { kind: 'missing' };
    if (st.type !== 'link') {
      current = next;
      entry = st;
      continue;
    }
    const target = host.readlink(next);
    if (target === null || ++links > MAX_LINKS) return { kind: 'missing' };
    const reason = trustAll ? null : distrust(next, st, host);
    if (reason !== null) {
      const all = walk([target.startsWith('/') ? target : path.posix.join(current, target), ...pending.slice().reverse()].join('/'), host, true);
      return { kind: 'untrusted', link: next, target, reason, resolved: all.kind === 'ok' ? all.path : null };
    }
    if (target.startsWith('/')) {
      current = '/';
      entry = host.lstat('/');
    }
    pending.push(...target.split('/').filter(Boolean).reverse());
  }
  return entry === null ? { kind: 'missing' } : { kind: 'ok', path: current, entry };
}

/** Resolves `p` (absolute) on the host, following only links no jail could have written. */
export function resolveHostPath(p: string, host: HostPathReader): HostPathResolution {
  return walk(p, host, false);
}
