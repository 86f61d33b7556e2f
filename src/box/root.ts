/**
 * The read-only lower layer of a box's root: its image's tree (src/box/images.ts), or (no image)
 * the base directory holding only mount points, over which the host's system directories are
 * bound read-only.
 */
import { imageRoot } from './images';
import type { BoxPaths, BoxRecord } from './store';
import { stateRoot } from './state-dir';

export function lowerDir(record: BoxRecord, paths: BoxPaths, env: NodeJS.ProcessEnv = process.env): string {
  return record.image === null ? paths.base : imageRoot(record.image, { stateDir: stateRoot(env) });
}
