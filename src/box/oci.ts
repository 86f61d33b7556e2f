/**
 * Reading container images without a container engine: an OCI image layout (a directory, or an
 * `oci-archive` tar of one) or `docker save` output (manifest.json with Config and Layers, as a
 * tar or a directory). Yields the image's config and its layers in order, each checked against
 * the digests the image names for it: the manifest's blob digests (OCI) and the config's
 * `rootfs.diff_ids` (the uncompressed layers, both formats). Archive members are read in place
 * (a byte range of the tar), never copied out first.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { JailError } from '../errors';
import { applyLayerStream, type TreeWriter } from './layer';
import { TarReader } from './tar';

/** A byte range of a file: a blob in a layout directory, or a member of an archive. */
export interface Blob {
  file: string;
  start: number;
  size: number;
}

/** The files of an image, by their path inside the layout or archive. */
export interface ImageFiles {
  /** The directory or archive, for messages. */
  where: string;
  /** The file at `name`, or null. */
  get(name: string): Blob | null;
}

/** What jail keeps of an image's config: how a box would run it by default. */
export interface ImageRunConfig {
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  user?: string;
}

export interface ImageLayer {
  blob: Blob;
  /** The blob's digest as the manifest names it (OCI only). */
  digest?: string;
  /** The uncompressed layer's digest, from the config's rootfs.diff_ids. */
  diffId?: string;
}

export interface ContainerImage {
  format: 'oci' | 'docker';
  /** The OCI manifest digest, or the docker archive's repo tag. */
  ref?: string;
  platform?: string;
  config: ImageRunConfig;
  layers: ImageLayer[];
}

/** JSON files of an image are small; a bigger one is refused rather than read into memory. */
const MAX_JSON = 8 << 20;
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

const bad = (where: string, what: string, hint = 'the image is incomplete or not an OCI layout / docker save archive') =>
  new JailError('usage', `${where}: ${what}`, { hint });

/** An archive member name as a lookup key: `..` cannot climb above the archive's top. */
const memberKey = (name: string) => path.posix.normalize('/' + name).slice(1).replace(/\/$/, '');

/** Indexes a tar archive's regular files (and the symlinks docker save writes between them). */
export async function indexArchive(file: string): Promise<ImageFiles> {
  const members = new Map<string, Blob>();
  const links = new Map<string, string>();
  const reader = new TarReader((e) => {
    const key = memberKey(e.path);
    if (e.type === 'file') members.set(key, { file, start: e.offset, size: e.size });
    else if (e.type === 'symlink') links.set(key, memberKey(path.posix.join(path.posix.dirname(key), e.linkpath)));
    else if (e.type === 'hardlink') links.set(key, memberKey(e.linkpath));
    return null;
  });
  await pipeline(fs.createReadStream(file), async (src: AsyncIterable<Buffer>) => {
    for await (const chunk of src) reader.push(chunk);
    reader.end();
  });
  return {
    where: file,
    get: (name) => {
      let key = memberKey(name);
      for (let i = 0; i < 8 && !members.has(key) && links.has(key); i++) key = links.get(key)!;
      return members.get(key) ?? null;
    },
  };
}

/** A layout directory's files; symlinks are followed only while they stay inside it. */
export function directoryFiles(dir: string): ImageFiles {
  const top = fs.realpathSync(dir);
  return {
    where: dir,
    get: (name) => {
      let real: string;
      try {
        real = fs.realpathSync(path.join(top, memberKey(name)));
      } catch {
        return null;
      }
      if (!real.startsWith(top + path.sep)) return null;
      const st = fs.statSync(real);
      return st.isFile() ? { file: real, start: 0, size: st.size } : null;
    },
  };
}

function readBlob(b: Blob): Buffer {
  const buf = Buffer.alloc(b.size);
  const fd = fs.openSync(b.file, 'r');
  try {
    for (let off = 0; off < b.size; ) {
      const n = fs.readSync(fd, buf, off, b.size - off, b.start + off);
      if (n === 0) throw new JailError('usage', `${b.file}: ends early (truncated?)`);
      off += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

/** `sha256:<64 hex>`, the only digest algorithm images use in practice. */
export function parseDigest(d: unknown, where: string): string {
  if (typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d)) throw bad(where, `unsupported digest ${JSON.stringify(d)}`, "digests must be 'sha256:' and 64 hex digits");
  return d;
}

const sha256 = (h: Hash) => `sha256:${h.digest('hex')}`;

function checkDigest(where: string, what: string, want: string | undefined, got: string): void {
  if (want !== undefined && want !== got) throw bad(where, `${what} has digest ${got}, but the image names ${want}`, 'the file is corrupt or was altered; fetch or save the image again');
}

function readJson(files: ImageFiles, name: string, digest?: string): any {
  const blob = files.get(name);
  if (blob === null) throw bad(files.where, `no ${name}`);
  if (blob.size > MAX_JSON) throw bad(files.where, `${name} is ${blob.size} bytes, more than an image's JSON file may be`);
  const buf = readBlob(blob);
  checkDigest(files.where, name, digest, `sha256:${createHash('sha256').update(buf).digest('hex')}`);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw bad(files.where, `${name} is not JSON: ${(e as Error).message}`);
  }
}

const blobName = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`;

/** Node's names for architectures → OCI's (GOARCH). */
const OCI_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** `os/arch[/variant]`: this host's when not given. */
export function hostPlatform(): string {
  return `linux/${OCI_ARCH[process.arch] ?? process.arch}`;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

const platformOf = (d: Descriptor) => (d.platform ? [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/') : undefined);

/**
 * The one manifest of `want`'s platform among an index's (nested indexes followed). A manifest
 * without a platform matches when it is the only one; attestations (platform unknown/unknown)
 * never match.
 */
export function pickManifest(manifests: Descriptor[], want: string, where: string): Descriptor {
  const matches = (p: string | undefined) => p === undefined || p === want || (want.split('/').length === 2 && p.startsWith(want + '/'));
  const found = manifests.filter((d) => matches(platformOf(d)) && (platformOf(d) !== undefined || manifests.length === 1));
  if (found.length === 1) return found[0];
  const listed = manifests.map((d) => `${platformOf(d) ?? 'no platform'}${d.annotations?.['org.opencontainers.image.ref.name'] ? ` (${d.annotations['org.opencontainers.image.ref.name']})` : ''}`);
  throw new JailError('usage', `${where}: ${found.length === 0 ? `no image for ${want}` : `${found.length} images for ${want}`}; it has: ${listed.join(', ') || 'nothing'}`, {
    hint: found.length === 0 ? 'choose one with --platform OS/ARCH (e.g. --platform linux/arm64)' : 'the layout holds several images of this platform; export just one (e.g. skopeo copy ... oci-archive:FILE:TAG)',
  });
}

function runConfig(config: any): ImageRunConfig {
  const c = config?.config ?? {};
  const strings = (v: unknown) => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined);
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return { env: strings(c.Env), entrypoint: strings(c.Entrypoint), cmd: strings(c.Cmd), workingDir: str(c.WorkingDir), user: str(c.User) };
}

/** The config's diff_ids, one per layer (or none). */
function diffIds(config: any, layers: number, where: string): (string | undefined)[] {
  const ids = config?.rootfs?.diff_ids;
  if (ids === undefined) return new Array(layers).fill(undefined);
  if (!Array.isArray(ids) || ids.length !== layers) throw bad(where, `the config lists ${Array.isArray(ids) ? ids.length : 'no'} layer digests (rootfs.diff_ids) for ${layers} layers`);
  return ids.map((d) => parseDigest(d, where));
}

/** Reads an OCI layout: index.json → (index →) manifest → config and layers. */
export function readOciImage(files: ImageFiles, platform = hostPlatform()): ContainerImage {
  let list: Descriptor[] = readJson(files, 'index.json')?.manifests ?? [];
  for (let depth = 0; ; depth++) {
    if (!Array.isArray(list)) throw bad(files.where, 'index.json has no manifests list');
    const chosen = pickManifest(list, platform, files.where);
    const digest = parseDigest(chosen.digest, files.where);
    const doc = readJson(files, blobName(digest), digest);
    if (INDEX_TYPES.has(chosen.mediaType ?? doc.mediaType) || (doc.manifests && !doc.layers)) {
      if (depth === 4) throw bad(files.where, 'indexes nested more than 4 deep');
      list = doc.manifests;
      continue;
    }
    if (!Array.isArray(doc.layers) || typeof doc.config?.digest !== 'string') throw bad(files.where, `manifest ${digest} has no config or layers`);
    const configDigest = parseDigest(doc.config.digest, files.where);
    const config = readJson(files, blobName(configDigest), configDigest);
    const ids = diffIds(config, doc.layers.length, files.where);
    const layers = (doc.layers as Descriptor[]).map((l, i) => {
      const d = parseDigest(l.digest, files.where);
      const blob = files.get(blobName(d));
      if (blob === null) throw bad(files.where, `layer ${i + 1} (${d}) is missing`);
      return { blob, digest: d, diffId: ids[i] };
    });
    return { format: 'oci', ref: digest, platform: platformOf(chosen) ?? [config.os, config.architecture].filter(Boolean).join('/'), config: runConfig(config), layers };
  }
}

/** Reads `docker save` output: manifest.json → Config and Layers (one image per archive). */
export function readDockerImage(files: ImageFiles): ContainerImage {
  const manifest = readJson(files, 'manifest.json');
  if (!Array.isArray(manifest) || manifest.length !== 1) {
    const tags = Array.isArray(manifest) ? manifest.flatMap((m) => m?.RepoTags ?? []).join(', ') : '';
    throw bad(files.where, `manifest.json lists ${Array.isArray(manifest) ? manifest.length : 'no'} images${tags ? ` (${tags})` : ''}; one is imported at a time`, 'save one image per archive: docker save IMAGE -o FILE');
  }
  const { Config, Layers, RepoTags } = manifest[0] ?? {};
  if (typeof Config !== 'string' || !Array.isArray(Layers) || !Layers.every((l) => typeof l === 'string')) throw bad(files.where, 'manifest.json has no Config or Layers');
  // The config's file name is its digest (`<hex>.json`, or `blobs/sha256/<hex>` since docker 25).
  const hex = /([0-9a-f]{64})(\.json)?$/.exec(Config)?.[1];
  const config = readJson(files, Config, hex ? `sha256:${hex}` : undefined);
  const ids = diffIds(config, Layers.length, files.where);
  const layers = (Layers as string[]).map((name, i) => {
    const blob = files.get(name);
    if (blob === null) throw bad(files.where, `layer ${i + 1} (${name}) is missing`);
    return { blob, diffId: ids[i] };
  });
  return { format: 'docker', ref: RepoTags?.[0], platform: [config.os, config.architecture].filter(Boolean).join('/'), config: runConfig(config), layers };
}

const tap = (h: Hash) =>
  new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      cb(null, chunk);
    },
  });

/** gzip and zstd by their magic numbers; anything else is read as an uncompressed tar. */
function decompressor(blob: Blob, where: string): Transform {
  const head = readBlob({ ...blob, size: Math.min(4, blob.size) });
  if (head.length < 4) return new PassThrough();
  if (head[0] === 0x1f && head[1] === 0x8b) return zlib.createGunzip();
  if (head.readUInt32LE(0) === 0xfd2fb528) {
    const zstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
    if (!zstd) throw new JailError('environment', `${where}: a layer is zstd-compressed, which this Node.js (${process.version}) cannot read`, { hint: 'use Node.js >= 22.15, or convert the image to gzip layers (skopeo copy --dest-compress-format gzip)' });
    return zstd();
  }
  return new PassThrough();
}

/** Applies an image's layer, checking the blob's and the uncompressed tar's digests. */
export async function applyImageLayer(tree: TreeWriter, layer: ImageLayer, where: string, signal?: AbortSignal): Promise<void> {
  const raw = createHash('sha256');
  const plain = createHash('sha256');
  const { blob } = layer;
  const unpack = decompressor(blob, where); // first: it may refuse the layer, and then no stream may be left open
  const source = blob.size === 0 ? PassThrough.from([]) : fs.createReadStream(blob.file, { start: blob.start, end: blob.start + blob.size - 1 });
  await applyLayerStream(tree, source, signal, tap(raw), unpack, tap(plain));
  checkDigest(where, 'a layer', layer.digest, sha256(raw));
  checkDigest(where, 'an uncompressed layer', layer.diffId, sha256(plain));
}
