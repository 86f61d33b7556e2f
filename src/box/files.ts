/**
 * Files of a running box, moved without starting a process (agent tools read and write files far
 * more often than they run programs). Paths are the box's own: every component, symbolic links
 * included, is resolved inside the box's root as its programs see it (mounts and all), through
 * the init's /proc/PID/root and openat2(RESOLVE_IN_ROOT); a link planted in the box cannot make
 * these calls touch a host file. They act as the box's user: its permissions, its files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import { loadAddon } from '../native/addon';
import { ENOENT, errnoName } from '../supervisor/errno';
import { BOX_HOME, WORKSPACE } from './layout';
import { BoxPaths, boxState, initPidOf, readRecord, type BoxRecord } from './store';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_DIRECTORY, O_NOFOLLOW, O_NOCTTY, O_NONBLOCK } = fs.constants;

export interface BoxDirEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

function running(name: string, env: NodeJS.ProcessEnv): { record: BoxRecord; root: string } {
  const paths = new BoxPaths(name, env);
  const record = readRecord(paths);
  const { state, runtime } = boxState(paths);
  const init = runtime && initPidOf(runtime);
  if (state !== 'running' || !init) throw new JailError('usage', `box '${name}' is ${state === 'running' ? 'starting or stopping' : state}, not running`, { hint: `jail box start ${name}` });
  return { record, root: `/proc/${init}/root` };
}

function inBox(record: BoxRecord, p: string): string {
  if (p.includes('\0')) throw new JailError('usage', `path ${JSON.stringify(p)} contains a NUL byte`);
  return path.posix.resolve(record.workspace ? WORKSPACE : BOX_HOME, p);
}

/** As root, the box's user's ids to open files with (see native/box.cc); otherwise we are that user already. */
function fsIds(record: BoxRecord): [number, number] {
  return process.getuid!() === 0 ? [record.hostUid, record.hostGid] : [-1, -1];
}

function open(name: string, p: string, flags: number, env: NodeJS.ProcessEnv): { fd: number; record: BoxRecord; where: string } {
  const { record, root } = running(name, env);
  const where = inBox(record, p);
  try {
    return { fd: loadAddon().openInRoot(root, where, flags, 0o644, ...fsIds(record)), record, where };
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    const code = errno === undefined ? (e as Error).message : errnoName(errno);
    throw new JailError('usage', `box '${name}': cannot open ${where}: ${code}`, { hint: code === 'ENOENT' ? 'no such file or directory in the box' : 'check the path and its permissions in the box' });
  }
}

export function readBoxFile(name: string, p: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const { fd } = open(name, p, O_RDONLY, env);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeBoxFile(name: string, p: string, data: string | Uint8Array, env: NodeJS.ProcessEnv = process.env): void {
  // O_NOFOLLOW: the last component is replaced as a file, never written through a link.
  const { fd } = open(name, p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, env);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new JailError('usage', `box '${name}': ${p} is not a regular file`);
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

export function listBoxDir(name: string, p: string, env: NodeJS.ProcessEnv = process.env): BoxDirEntry[] {
  const { fd } = open(name, p, O_RDONLY | O_DIRECTORY, env);
  try {
    // Through our own descriptor: the directory opened above, then one name at a time, unfollowed.
    const dir = `/proc/self/fd/${fd}`;
    return fs
      .readdirSync(dir)
      .sort()
      .map((entry) => {
        const st = fs.lstatSync(path.join(dir, entry));
        return { name: entry, type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other', size: st.size };
      });
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A new terminal for `jail box shell`, [master, slave], from the box's own devpts instance: the
 * program's terminal then has a name in the box (/dev/pts/N, what tty, ssh, sudo and gpg look
 * for), and belongs to the box's user. A box started by a jail without /dev/pts in boxes gets a
 * host terminal: it works, but has no name in the box until the box is restarted.
 */
export function openBoxPty(name: string, env: NodeJS.ProcessEnv = process.env): [number, number] {
  const { record, root } = running(name, env);
  const addon = loadAddon();
  let ptmx: number;
  try {
    ptmx = addon.openInRoot(root, '/dev/pts/ptmx', O_RDWR | O_NOCTTY | O_NONBLOCK, 0, ...fsIds(record));
  } catch (e) {
    if ((e as { errno?: number }).errno === ENOENT) return addon.openPty();
    throw new JailError('setup', `box '${name}': cannot open a terminal in the box (/dev/pts/ptmx): ${errnoName((e as { errno?: number }).errno ?? 0)}`, { hint: `restart the box (jail box stop ${name}; jail box start ${name}), or run without a terminal (-T)` });
  }
  try {
    return addon.openPty(ptmx);
  } catch (e) {
    fs.closeSync(ptmx);
    throw e;
  }
}
