/**
 * A run's files on the host: a fresh directory under the server's own, bound read-only into the
 * jail at the server's workdir and removed when the run ends. Read-only, so a jail cannot fill
 * the host's disk through it; what a program writes goes where the server's config lets it (a
 * tmpfs, say).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RequestError } from './request';

/**
 * The server's directory of run directories: 0711, so other host users cannot list the runs;
 * each run's directory is 0755 (the jail's user may be mapped to another host uid) under an
 * unguessable name.
 */
export async function createRunRoot(): Promise<string> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'jail-serve-'));
  await fsp.chmod(root, 0o711);
  return root;
}

/** Writes `files` (paths checked by checkFilePath) into a new directory under `root`. */
export async function createRunDir(root: string, files: [string, string][]): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(root, 'run-'));
  await fsp.chmod(dir, 0o755);
  try {
    // Paths were checked (relative, no '..'), so every file lands inside `dir`.
    for (const [rel, content] of files) {
      const file = path.join(dir, rel);
      await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
      await fsp.writeFile(file, content, { flag: 'wx', mode: 0o644 });
    }
  } catch (e) {
    await removeDir(dir);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new RequestError(400, `files: one path is used both as a file and as a directory; rename one of them`);
    }
    throw e;
  }
  return dir;
}

export function removeDir(dir: string): Promise<void> {
  return fsp.rm(dir, { recursive: true, force: true });
}
