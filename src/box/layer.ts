/**
 * Applies image layers (tar streams) onto a root filesystem tree, with OCI whiteouts. Layers are
 * untrusted input, and the tree they build holds symlinks with any target, so every path is
 * confined to the tree:
 * - an entry or hard-link name with a `..` component is refused (no real layer has one); a
 *   leading `/` is dropped, as tar does;
 * - directories on the way to an entry are resolved as if the tree were `/`: a symlink is
 *   followed with an absolute target restarting at the tree's top and `..` stopping there
 *   (a later layer writing through an earlier layer's `/bin -> usr/bin` lands in `usr/bin`);
 * - the entry itself is never followed: what is there is replaced (unlinked first), and hard
 *   links are made with link(2), which does not follow a symlink either.
 * This is race-free only because the tree is private to the import (a fresh directory under the
 * store) and written by this one process, one entry at a time.
 *
 * Device nodes and fifos are skipped: a box gets its /dev from jail, never from an image, and
 * Node cannot make them anyway. Setuid/setgid bits are dropped: inside a jail no_new_privs makes
 * them inert, and on the host they would be a way up for whoever reaches the file (rootless, set-id
 * to the importing user; as root, to root). Extended attributes are not kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import { Writable, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TarReader, type EntrySink, type TarEntry } from './tar';

export interface TreeWriter {
  /** The root of the tree (an absolute host path). */
  root: string;
  /** Give entries their archive owners (root only). */
  chown: boolean;
  /**
   * Directory modes and times, applied once after the last layer: a directory that is not
   * writable (0555) must still take the entries that follow it, in this layer or the next.
   */
  dirs: Map<string, { mode: number; mtime: number }>;
  /** Device nodes and fifos left out. */
  skipped: number;
}

export function newTreeWriter(root: string, chown: boolean): TreeWriter {
  return { root, chown, dirs: new Map(), skipped: 0 };
}

const MAX_SYMLINKS = 40;

const refused = (entry: string, why: string) =>
  new JailError('usage', `layer entry '${entry}' refused: ${why}`, { hint: 'the image is malformed or hostile; layers may only name paths inside the image' });

/** The components of an archive path: no `..`, no empty or `.` parts, a leading `/` dropped. */
export function entryParts(name: string): string[] {
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw refused(name, "it has a '..' component");
  return parts;
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * The directory `parts` names, as a path relative to the tree, resolved inside it (symlinks
 * followed with the tree as `/`). Missing directories are made when `create`, else null.
 */
export function resolveDir(root: string, parts: string[], create: boolean, entry = parts.join('/')): string | null {
  const todo = [...parts];
  const at: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      at.pop();
      continue;
    }
    const abs = path.join(root, ...at, c);
    const st = lstatOrNull(abs);
    if (st === null) {
      if (!create) return null;
      fs.mkdirSync(abs, 0o755);
    } else if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw refused(entry, `more than ${MAX_SYMLINKS} symlinks on its way`);
      const target = fs.readlinkSync(abs);
      if (target.startsWith('/')) at.length = 0;
      todo.unshift(...target.split('/'));
      continue;
    } else if (!st.isDirectory()) {
      throw refused(entry, `'${[...at, c].join('/')}' on its way is not a directory`);
    }
    at.push(c);
  }
  return at.join('/');
}

/** Removes whatever is at `abs` (a directory with its contents), never following a symlink. */
function removeEntry(abs: string): void {
  fs.rmSync(abs, { recursive: true, force: true });
}

/** The OCI opaque marker: the directory hides everything lower layers put in it. */
const OPAQUE = '.wh..wh..opq';
const WHITEOUT = '.wh.';

export interface LayerApplier {
  /** TarReader's entry handler. */
  onEntry(entry: TarEntry): EntrySink | null;
  /** Closes the file being written, when the layer failed in the middle of one. */
  abort(): void;
}

/**
 * One layer's entry handler for TarReader. Whiteouts hide only what lower layers made (OCI image
 * spec, "Whiteouts"), so the paths this layer made are remembered.
 */
export function layerApplier(tree: TreeWriter): LayerApplier {
  const made = new Set<string>();
  const { root } = tree;
  let openFd: number | null = null;

  /** Deletes what lower layers left in `dir` (relative), keeping this layer's own entries. */
  const pruneLower = (dir: string): void => {
    for (const child of fs.readdirSync(path.join(root, dir))) {
      const rel = dir ? `${dir}/${child}` : child;
      if (!made.has(rel)) removeEntry(path.join(root, rel));
      else if (fs.lstatSync(path.join(root, rel)).isDirectory()) pruneLower(rel);
    }
  };

  const owner = (abs: string, e: TarEntry) => {
    if (tree.chown) fs.lchownSync(abs, e.uid, e.gid);
  };

  const apply = (e: TarEntry): EntrySink | null => {
    const parts = entryParts(e.path);
    const name = parts.pop();
    if (name === undefined) {
      // The tree's own top directory ('./').
      if (e.type === 'dir') tree.dirs.set('', { mode: e.mode, mtime: e.mtime });
      return null;
    }
    if (name.startsWith(WHITEOUT)) {
      const dir = resolveDir(root, parts, false, e.path);
      if (dir === null) return null; // nothing below to hide
      if (name === OPAQUE) {
        pruneLower(dir);
      } else {
        const hidden = name.slice(WHITEOUT.length);
        if (hidden === '' || hidden === '.' || hidden === '..') throw refused(e.path, 'a whiteout of nothing');
        const rel = dir ? `${dir}/${hidden}` : hidden;
        if (!made.has(rel)) removeEntry(path.join(root, rel));
      }
      return null;
    }
    if (e.type === 'char' || e.type === 'block' || e.type === 'fifo') {
      tree.skipped++;
      return null;
    }
    const dir = resolveDir(root, parts, true, e.path)!;
    const rel = dir ? `${dir}/${name}` : name;
    const abs = path.join(root, rel);
    made.add(rel);
    const existing = lstatOrNull(abs);
    if (e.type === 'dir') {
      // Directories merge with a lower layer's; anything else in the way is replaced.
      if (existing?.isDirectory() !== true) {
        if (existing) removeEntry(abs);
        fs.mkdirSync(abs, 0o700);
      }
      owner(abs, e);
      tree.dirs.set(rel, { mode: e.mode, mtime: e.mtime });
      return null;
    }
    if (existing) removeEntry(abs);
    if (e.type === 'symlink') {
      fs.symlinkSync(e.linkpath, abs);
      owner(abs, e);
      fs.lutimesSync(abs, e.mtime, e.mtime);
      return null;
    }
    if (e.type === 'hardlink') {
      const targetParts = entryParts(e.linkpath);
      const targetName = targetParts.pop();
      const targetDir = targetName === undefined ? null : resolveDir(root, targetParts, false, e.linkpath);
      const target = targetDir === null ? null : path.join(root, targetDir, targetName!);
      const st = target === null ? null : lstatOrNull(target);
      if (st === null || st.isDirectory()) throw refused(e.path, `it is a hard link to '${e.linkpath}', which is not a file earlier in the image`);
      fs.linkSync(target!, abs);
      return null;
    }
    // A regular file: created exclusively (whatever was there is gone), so nothing is followed.
    const fd = fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    openFd = fd;
    return {
      write: (chunk) => {
        for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off);
      },
      end: () => {
        try {
          if (tree.chown) fs.fchownSync(fd, e.uid, e.gid);
          fs.fchmodSync(fd, e.mode & ~0o6000);
          fs.futimesSync(fd, e.mtime, e.mtime);
        } finally {
          openFd = null;
          fs.closeSync(fd);
        }
      },
    };
  };

  /** Runs `step` for entry `e`; a failed file operation is named after the entry (a hostile layer can make any of them fail). */
  const guard = <T>(e: TarEntry, step: () => T): T => {
    try {
      return step();
    } catch (err) {
      if (err instanceof JailError) throw err;
      const { code, message } = err as NodeJS.ErrnoException;
      throw new JailError('usage', `writing layer entry '${e.path}' failed: ${code ?? message}`, { hint: code === 'ENOSPC' ? 'the disk holding the state directory is full' : 'the layer is malformed, or the state directory is not writable', cause: err });
    }
  };

  const onEntry = (e: TarEntry): EntrySink | null => {
    const sink = guard(e, () => apply(e));
    return sink && { write: (chunk) => guard(e, () => sink.write(chunk)), end: () => guard(e, () => sink.end()) };
  };

  return {
    onEntry,
    abort: () => {
      if (openFd !== null) fs.closeSync(openFd);
      openFd = null;
    },
  };
}

/** Applies one layer, a tar stream after `transforms` (decompression, digests), onto the tree. */
export async function applyLayerStream(tree: TreeWriter, source: Readable, signal?: AbortSignal, ...transforms: Transform[]): Promise<void> {
  const applier = layerApplier(tree);
  const reader = new TarReader(applier.onEntry);
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      try {
        reader.push(chunk);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    final(done) {
      try {
        reader.end();
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
  try {
    await pipeline([source, ...transforms, sink], { signal });
  } finally {
    applier.abort();
  }
}

/** After the last layer: gives directories their modes and times, deepest first. */
export function finishTree(tree: TreeWriter): void {
  const dirs = [...tree.dirs].sort(([a], [b]) => b.split('/').length - a.split('/').length);
  for (const [rel, { mode, mtime }] of dirs) {
    const abs = path.join(tree.root, rel);
    if (lstatOrNull(abs)?.isDirectory() !== true) continue; // removed or replaced by a later layer
    fs.chmodSync(abs, mode & ~0o6000);
    fs.utimesSync(abs, mtime, mtime);
  }
}
