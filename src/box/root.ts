/**
 * The read-only lower layer of a box's root: its image's tree, or (no image) the base directory
 * holding only mount points, over which the host's system directories are bound read-only.
 */
import * as path from 'node:path';
import { JailError } from '../errors';
import * as fs from 'node:fs';
import type { BoxPaths, BoxRecord } from './store';
import { stateRoot } from './state-dir';

export function lowerDir(record: BoxRecord, paths: BoxPaths, env: NodeJS.ProcessEnv = process.env): string {
  if (record.image === null) return paths.base;
  const root = path.join(stateRoot(env), 'images', record.image, 'rootfs');
  if (!fs.existsSync(root)) throw new JailError('usage', `box '${record.name}' uses image '${record.image}', which does not exist`, { hint: 'jail image ls lists images' });
  return root;
}
