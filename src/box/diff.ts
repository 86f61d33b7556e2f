/**
 * `box diff`: what changed in a box's root since it started (ephemeral) or was created
 * (persistent), read from the overlay's upper layer: a whiteout (character device 0:0) is a
 * deleted path, anything else is added (nothing at that path below) or changed. The workspace,
 * caches, /tmp and /dev are mounts of their own and never part of it; nor are the directories jail
 * makes for its mounts. An opaque directory (one the box removed and made again, hiding what was
 * below) is changed, and what it hides below is deleted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import { loadAddon } from '../native/addon';
import { BOX_HOME } from './layout';
import { lowerDir } from './root';
import { BoxPaths, boxState, readRecord } from './store';

export interface BoxDiff {
  added: string[];
  changed: string[];
  deleted: string[];
}

/** Directories jail itself puts in the upper layer (mount points and the user's home). */
function ownDirs(): Set<string> {
  const out = new Set(['/dev', '/proc', '/tmp', '/workspace']);
  for (let d = BOX_HOME; d !== '/'; d = path.posix.dirname(d)) out.add(d);
  return out;
}

/** Whether the lower layer has the path (not following a link in its last component). */
function existsBelow(lower: string, inBox: string): boolean {
  try {
    fs.lstatSync(path.join(lower, inBox));
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether overlayfs marked the upper directory opaque: trusted.* when root mounted the overlay,
 * user.* in a user namespace (userxattr).
 */
function isOpaque(dir: string): boolean {
  const addon = loadAddon();
  return ['trusted.overlay.opaque', 'user.overlay.opaque'].some((name) => addon.readXattr(dir, name) === 'y');
}

/** Names in the lower layer's directory (none when it is not a directory there). */
function namesBelow(lower: string, inBox: string): string[] {
  try {
    return fs.readdirSync(path.join(lower, inBox));
  } catch {
    return [];
  }
}

export function diffBox(name: string, env: NodeJS.ProcessEnv = process.env): BoxDiff {
  const paths = new BoxPaths(name, env);
  const record = readRecord(paths);
  const { state } = boxState(paths);
  if (!record.persistent && state !== 'running') throw new JailError('usage', `box '${name}' is ephemeral and ${state}: its root has no changes until it runs`, { hint: `jail box start ${name}` });
  const { upper } = paths.layer(record.persistent);
  const lower = lowerDir(record, paths, env);
  const skip = ownDirs();
  const diff: BoxDiff = { added: [], changed: [], deleted: [] };
  const walk = (rel: string, hidesBelow: boolean) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(upper, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const inBox = path.posix.join('/', rel, e.name);
      const st = fs.lstatSync(path.join(upper, inBox));
      if (st.isCharacterDevice() && st.rdev === 0) {
        diff.deleted.push(inBox);
        continue;
      }
      const below = existsBelow(lower, inBox);
      if (e.isDirectory()) {
        if (!skip.has(inBox) && !below) diff.added.push(inBox);
        // Under an opaque directory nothing below shows, so each directory there hides its own.
        const opaque = below && (hidesBelow || isOpaque(path.join(upper, inBox)));
        if (opaque) {
          if (!hidesBelow) diff.changed.push(inBox);
          const kept = new Set(fs.readdirSync(path.join(upper, inBox)));
          for (const n of namesBelow(lower, inBox)) if (!kept.has(n)) diff.deleted.push(path.posix.join(inBox, n));
        }
        walk(inBox, hidesBelow || opaque);
      } else (below ? diff.changed : diff.added).push(inBox);
    }
  };
  walk('/', false);
  for (const list of Object.values(diff)) list.sort();
  return diff;
}
