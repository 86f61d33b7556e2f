/**
 * `box diff`: what changed in a box's root since it started (ephemeral) or was created
 * (persistent), read from the overlay's upper layer: a whiteout (character device 0:0) is a
 * deleted path, anything else is added (nothing at that path below) or changed. The workspace,
 * caches, /tmp and /dev are mounts of their own and never part of it; nor are the directories jail
 * makes for its mounts. An opaque directory (replaced whole) shows as changed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
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

export function diffBox(name: string, env: NodeJS.ProcessEnv = process.env): BoxDiff {
  const paths = new BoxPaths(name, env);
  const record = readRecord(paths);
  const { state } = boxState(paths);
  if (!record.persistent && state !== 'running') throw new JailError('usage', `box '${name}' is ephemeral and ${state}: its root has no changes until it runs`, { hint: `jail box start ${name}` });
  const { upper } = paths.layer(record.persistent);
  const lower = lowerDir(record, paths, env);
  const skip = ownDirs();
  const diff: BoxDiff = { added: [], changed: [], deleted: [] };
  const walk = (rel: string) => {
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
        walk(inBox);
      } else (below ? diff.changed : diff.added).push(inBox);
    }
  };
  walk('/');
  for (const list of Object.values(diff)) list.sort();
  return diff;
}
