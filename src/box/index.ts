/**
 * Boxes from the library: named, long-lived jails with a workspace (README "Boxes").
 *
 *   import { box } from 'jail';
 *   await box.create('agent', { workspace: './project', network: 'limited', memoryBytes: 2 << 30 });
 *   await box.start('agent');
 *   const r = await box.exec('agent', ['python3', '-c', 'print(1)']);
 *   box.writeFile('agent', 'notes.txt', 'hi');
 *   await box.stop('agent');
 */
export { createBox as create, startBox as start, stopBox as stop, removeBox as rm, listBoxes as list, boxInfo as status } from './lifecycle';
export type { BoxCreateOptions, BoxInfo, StartResult } from './lifecycle';
export { execInBox as exec } from './exec';
export type { BoxExecOptions, BoxExecResult } from './exec';
export { diffBox as diff } from './diff';
export type { BoxDiff } from './diff';
export { readBoxFile as readFile, writeBoxFile as writeFile, listBoxDir as listDir } from './files';
export type { BoxDirEntry } from './files';
export type { BoxRecord, BoxState } from './store';
export { BOX_NETWORKS, type BoxNetwork, type ProfileSettings } from './profiles';
