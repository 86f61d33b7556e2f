/**
 * A Debian root filesystem from packages, by mmdebstrap (Debian's package of that name). It
 * writes the tree as a tar to its stdout, which goes through the same layer writer as an
 * imported image: one path for root and rootless (`--mode=unshare`, where a directory output
 * would belong to subordinate ids the user could not even delete), and no temporary tar.
 */
import { spawn } from 'node:child_process';
import { JailError } from '../errors';
import { applyLayerStream, type TreeWriter } from './layer';

export const DEBIAN_VARIANTS = ['essential', 'apt', 'minbase', 'buildd', 'important', 'standard'] as const;
export type DebianVariant = (typeof DEBIAN_VARIANTS)[number];

export interface DebianOptions {
  /** A suite or codename: bookworm, trixie, stable, sid. */
  suite: string;
  /** mmdebstrap's --variant; default minbase (what a `debian` container image holds). */
  variant?: DebianVariant;
  /** Packages installed on top (mmdebstrap --include). */
  packages?: string[];
  /** The archive to fetch from; mmdebstrap's default is http://deb.debian.org/debian. */
  mirror?: string;
}

/** Checks the options and returns mmdebstrap's arguments (nothing here may read as an option). */
export function mmdebstrapArgs(o: DebianOptions, rootless: boolean): string[] {
  if (!/^[a-z][a-z0-9.-]*$/.test(o.suite)) throw new JailError('flag', `--debian: '${o.suite}' is not a Debian suite name`, { hint: 'give a codename or suite, e.g. --debian bookworm' });
  const variant = o.variant ?? 'minbase';
  if (!DEBIAN_VARIANTS.includes(variant)) throw new JailError('flag', `--variant: '${variant}' is not one of ${DEBIAN_VARIANTS.join(', ')}`);
  const packages = o.packages ?? [];
  for (const p of packages) {
    if (!/^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/.test(p)) throw new JailError('flag', `--packages: '${p}' is not a Debian package name`, { hint: 'a comma-separated list, e.g. --packages python3,git,curl' });
  }
  if (o.mirror !== undefined && !/^(https?|file):\/\/[^\s]+$/.test(o.mirror)) throw new JailError('flag', `--mirror: '${o.mirror}' is not an http(s):// or file:// URL`, { hint: 'e.g. --mirror http://deb.debian.org/debian' });
  return [`--variant=${variant}`, `--mode=${rootless ? 'unshare' : 'root'}`, '--format=tar', ...(packages.length ? [`--include=${packages.join(',')}`] : []), o.suite, '-', ...(o.mirror ? [o.mirror] : [])];
}

/** Runs mmdebstrap into `tree`; its progress lines go to `log`. */
export async function buildDebianTree(tree: TreeWriter, o: DebianOptions, log?: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const rootless = process.getuid?.() !== 0;
  const args = mmdebstrapArgs(o, rootless);
  // A process group of its own: on failure or a signal, mmdebstrap sends SIGHUP to its whole
  // group (to stop its apt and dpkg), which would otherwise include jail and the shell above it.
  const child = spawn('mmdebstrap', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // Its last words explain a failure, whether or not anyone follows its progress.
  const tail: string[] = [];
  let partial = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      log?.(line);
      tail.push(line);
      if (tail.length > 15) tail.shift();
    }
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => {}); // awaited below, once the tar stream is done; not unhandled meanwhile
  try {
    await applyLayerStream(tree, child.stdout, signal);
    const code = await exited;
    if (code !== 0) {
      throw new JailError('environment', `mmdebstrap ${args.join(' ')} failed (exit ${code}):\n  ${tail.join('\n  ')}`, {
        hint: rootless ? '--mode=unshare needs user namespaces and subordinate ids for your user (/etc/subuid, newuidmap from the uidmap package)' : 'check the suite name, the package names and that the mirror is reachable',
      });
    }
  } catch (e) {
    child.kill('SIGTERM');
    const spawnError = await exited.then(
      () => null,
      (err: NodeJS.ErrnoException) => err,
    );
    if (spawnError?.code === 'ENOENT') throw new JailError('environment', 'mmdebstrap is not installed (jail image build --debian runs it)', { hint: 'apt-get install mmdebstrap' });
    throw e;
  }
}
