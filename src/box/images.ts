/**
 * The image store: read-only root filesystem trees that boxes use as the lower layer of their
 * overlay. `<stateRoot>/images/NAME/rootfs/` is the tree, `<stateRoot>/images/NAME/image.json`
 * says where it came from. jail never writes an image once stored.
 *
 * An image appears whole or not at all: it is built in `.tmp-NAME-PID-RANDOM/` beside the
 * others and renamed into place when complete; a failed or interrupted build removes its
 * directory, and one whose process died (SIGKILL) is swept by the next build (its PID is gone).
 * `--force` renames the old image aside, the new one in, then deletes the old: a reader sees the
 * old image, the new one, or (for the instant between the two renames) none, never half of one.
 *
 * No stored file is set-id (layer.ts and importDir drop the bits: a hostile image could carry a
 * set-uid-root shell). The images directory is 0711: a box's root is mounted with its user's
 * host id, which must pass through to the image's tree; nobody else can list the store.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { JailError } from '../errors';
import { BoxPaths, listBoxNames, readRecord } from './store';
import { buildDebianTree, type DebianOptions, type DebianVariant } from './debian';
import { finishTree, newTreeWriter, type TreeWriter } from './layer';
import { applyImageLayer, directoryFiles, hostPlatform, indexArchive, readDockerImage, readOciImage, type ContainerImage, type ImageFiles, type ImageRunConfig } from './oci';
import { checkName, stateRoot } from './state-dir';

export type ImageSource =
  | { kind: 'debian'; suite: string; variant: DebianVariant; packages: string[]; mirror?: string }
  | { kind: 'oci' | 'docker'; path: string; ref?: string; platform?: string }
  | { kind: 'dir'; path: string };

/** image.json. */
export interface ImageInfo {
  name: string;
  source: ImageSource;
  /** ISO 8601. */
  created: string;
  /** Bytes of the files in the tree (each hard-linked file once). */
  sizeBytes: number;
  /** How the image runs by default (OCI and docker images): Env, Entrypoint, Cmd, WorkingDir, User. */
  config?: ImageRunConfig;
}

export interface ImageStoreOptions {
  /** The state directory; default stateRoot() (src/box/state-dir.ts). */
  stateDir?: string;
}

export interface ImageWriteOptions extends ImageStoreOptions {
  /** Replace an image of the same name. */
  force?: boolean;
  /** Progress lines (mmdebstrap's output, skipped entries); quiet when absent. */
  log?: (line: string) => void;
  /** Stops the build or import; nothing is left behind. */
  signal?: AbortSignal;
}

export interface BuildOptions extends ImageWriteOptions, DebianOptions {}

export interface ImportOptions extends ImageWriteOptions {
  /** OS/ARCH[/VARIANT] to pick from a multi-platform image; default this host's (e.g. linux/amd64). */
  platform?: string;
}

const isRoot = () => process.getuid?.() === 0;

function imagesDir(o: ImageStoreOptions): string {
  return path.join(o.stateDir ?? stateRoot(), 'images');
}

const missing = (name: string) =>
  new JailError('usage', `no image '${name}'`, { hint: `jail image ls lists them; build one with jail image build ${name} --debian bookworm` });

/** The root filesystem tree of image `name`. */
export function imageRoot(name: string, o: ImageStoreOptions = {}): string {
  const root = path.join(imagesDir(o), checkName('image', name), 'rootfs');
  if (!fs.existsSync(root)) throw missing(name);
  return root;
}

/** The stored images, by name. */
export function listImages(o: ImageStoreOptions = {}): ImageInfo[] {
  const dir = imagesDir(o);
  if (!fs.existsSync(dir)) return [];
  const out: ImageInfo[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue; // builds in progress, images being replaced or removed
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, name, 'image.json'), 'utf8')) as ImageInfo);
    } catch {
      // not an image directory (someone else's file): not ours to list
    }
  }
  return out;
}

/** Deletes a tree, also when the importing user made some of its directories read-only (0555). */
function removeTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    if (isRoot() || !['EACCES', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    const open = (d: string): void => {
      fs.chmodSync(d, 0o700);
      for (const ent of fs.readdirSync(d, { withFileTypes: true })) if (ent.isDirectory()) open(path.join(d, ent.name));
    };
    open(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A scratch name beside the images: `.KIND-NAME-PID-RANDOM`, so a dead process's leftovers can be told apart. */
const scratchName = (kind: 'tmp' | 'old' | 'rm', name: string) => `.${kind}-${name}-${process.pid}-${randomBytes(4).toString('hex')}`;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes scratch directories of processes that died without cleaning up (SIGKILL). */
function sweepScratch(dir: string): void {
  for (const entry of fs.readdirSync(dir)) {
    const pid = /^\.(?:tmp|old|rm)-.+-(\d+)-[0-9a-f]{8}$/.exec(entry)?.[1];
    if (pid !== undefined && !pidAlive(Number(pid))) removeTree(path.join(dir, entry));
  }
}

/** Removes image `name`: renamed out of sight first, so it is gone at once even if deleting takes a while. */
export function removeImage(name: string, o: ImageStoreOptions = {}): void {
  const dir = imagesDir(o);
  const target = path.join(dir, checkName('image', name));
  // A box's root is this tree: removing it under the box would break it.
  const env = o.stateDir === undefined ? process.env : { ...process.env, JAIL_STATE_DIR: o.stateDir };
  const users = listBoxNames(env).filter((box) => readRecord(new BoxPaths(box, env)).image === name);
  if (users.length > 0) {
    throw new JailError('usage', `image '${name}' is used by box${users.length > 1 ? 'es' : ''} ${users.join(', ')}`, { hint: `remove ${users.length > 1 ? 'them' : 'it'} first (jail box rm ${users[0]})` });
  }
  const aside = path.join(dir, scratchName('rm', name));
  try {
    fs.renameSync(target, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missing(name);
    throw e;
  }
  removeTree(aside);
}

/** Bytes in the regular files under `dir`, each inode once. */
function treeSize(dir: string): number {
  const seen = new Set<number>();
  let total = 0;
  const walk = (d: string): void => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile()) {
        const st = fs.lstatSync(p);
        if (st.nlink > 1) {
          if (seen.has(st.ino)) continue;
          seen.add(st.ino);
        }
        total += st.size;
      }
    }
  };
  walk(dir);
  return total;
}

const exists = (name: string) =>
  new JailError('usage', `image '${name}' exists`, { hint: `remove it first (jail image rm ${name}) or replace it with --force` });

/** Builds an image in a scratch directory with `fill(rootfs)` and moves it into place when complete. */
async function storeImage(name: string, o: ImageWriteOptions, fill: (rootfs: string) => Promise<Pick<ImageInfo, 'source' | 'config'>>): Promise<ImageInfo> {
  checkName('image', name);
  const dir = imagesDir(o);
  const target = path.join(dir, name);
  if (!o.force && fs.existsSync(target)) throw exists(name);
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o711);
  sweepScratch(dir);
  const tmp = path.join(dir, scratchName('tmp', name));
  fs.mkdirSync(path.join(tmp, 'rootfs'), { recursive: true, mode: 0o755 });
  try {
    const made = await fill(path.join(tmp, 'rootfs'));
    o.signal?.throwIfAborted();
    const info: ImageInfo = { name, ...made, created: new Date().toISOString(), sizeBytes: treeSize(path.join(tmp, 'rootfs')) };
    fs.writeFileSync(path.join(tmp, 'image.json'), JSON.stringify(info, null, 2) + '\n', { mode: 0o644 });
    let old: string | null = null;
    if (o.force) {
      old = path.join(dir, scratchName('old', name));
      try {
        fs.renameSync(target, old);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        old = null;
      }
    }
    try {
      fs.renameSync(tmp, target);
    } catch (e) {
      if (old !== null) {
        // Put the old image back, unless another build of the name took its place meanwhile.
        try {
          fs.renameSync(old, target);
        } catch {
          removeTree(old);
        }
      }
      // Another build of the same name finished first.
      if (['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw exists(name);
      throw e;
    }
    if (old !== null) removeTree(old);
    return info;
  } catch (e) {
    removeTree(tmp);
    throw e;
  }
}

function finishImageTree(tree: TreeWriter, log?: (line: string) => void): void {
  finishTree(tree);
  if (tree.skipped > 0) log?.(`${tree.skipped} device nodes and fifos left out (a box's /dev is jail's)`);
}

/** `jail image build NAME --debian SUITE`: a Debian tree made by mmdebstrap. */
export async function buildImage(name: string, o: BuildOptions): Promise<ImageInfo> {
  return storeImage(name, o, async (rootfs) => {
    const tree = newTreeWriter(rootfs, isRoot());
    await buildDebianTree(tree, o, o.log, o.signal);
    finishImageTree(tree, o.log);
    const source: ImageSource = { kind: 'debian', suite: o.suite, variant: o.variant ?? 'minbase', packages: o.packages ?? [] };
    if (o.mirror) source.mirror = o.mirror;
    return { source };
  });
}

/** What `source` is: an OCI layout or docker save output (directory or tar), or a plain tree. */
async function openImage(source: string, platform: string): Promise<ContainerImage | null> {
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw new JailError('usage', `cannot import '${source}': no such file or directory`, { hint: 'give an OCI layout (directory or oci-archive tar), a docker save tar, or a directory tree' });
  }
  let files: ImageFiles;
  if (st.isDirectory()) {
    files = directoryFiles(source);
    if (files.get('index.json') === null && files.get('manifest.json') === null) return null; // a plain tree
  } else {
    files = await indexArchive(source);
  }
  if (files.get('index.json') !== null) return readOciImage(files, platform);
  if (files.get('manifest.json') !== null) return readDockerImage(files);
  throw new JailError('usage', `cannot import '${source}': a tar without index.json (OCI layout) or manifest.json (docker save)`, {
    hint: 'give an OCI layout (directory or oci-archive tar), a docker save tar, or a directory tree; a root filesystem tar can be unpacked into a directory first',
  });
}

/** `jail image import NAME PATH`: an OCI layout, a docker save archive, or a copy of a directory tree. */
export async function importImage(name: string, sourcePath: string, o: ImportOptions = {}): Promise<ImageInfo> {
  const abs = path.resolve(sourcePath);
  return storeImage(name, o, async (rootfs) => {
    const image = await openImage(abs, o.platform ?? hostPlatform());
    if (image === null) {
      // Ownership and modes as they are (set-id bits aside); `cp -a` knows every file type and keeps hard links.
      await promisify(execFile)('cp', ['-a', '--', `${abs}/.`, rootfs], { signal: o.signal }).catch((e: Error & { stderr?: string }) => {
        if (e.name === 'AbortError') throw e;
        throw new JailError('environment', `copying ${abs} failed: ${(e.stderr ?? e.message).trim()}`);
      });
      // No set-id file is stored (see the top of this file); `find` changes no link's target.
      await promisify(execFile)('find', [rootfs, '-type', 'f', '-perm', '/6000', '-exec', 'chmod', 'ug-s', '{}', '+']);
      return { source: { kind: 'dir', path: abs } };
    }
    const tree = newTreeWriter(rootfs, isRoot());
    for (const [i, layer] of image.layers.entries()) {
      o.log?.(`layer ${i + 1}/${image.layers.length} (${layer.blob.size} bytes)`);
      await applyImageLayer(tree, layer, abs, o.signal);
    }
    finishImageTree(tree, o.log);
    return { source: { kind: image.format, path: abs, ref: image.ref, platform: image.platform }, config: image.config };
  });
}
