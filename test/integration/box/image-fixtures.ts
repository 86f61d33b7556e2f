/**
 * Container images made in the test, from small real trees, with the system tar: layer tars,
 * OCI image layouts (directory or oci-archive) and `docker save` archives, with real sha256
 * digests. What an engine would produce, minus the engine.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Writes a tree: `{ 'dir/': null, 'file': 'text', 'link': { symlink: 'target' }, 'hl': { hardlink: 'file' } }`, in order. */
export function writeTree(dir: string, spec: Record<string, string | null | { symlink: string } | { hardlink: string } | { mode: number; text: string }>): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, what] of Object.entries(spec)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (what === null) fs.mkdirSync(p, { recursive: true });
    else if (typeof what === 'string') fs.writeFileSync(p, what);
    else if ('symlink' in what) fs.symlinkSync(what.symlink, p);
    else if ('hardlink' in what) fs.linkSync(path.join(dir, what.hardlink), p);
    else {
      fs.writeFileSync(p, what.text);
      fs.chmodSync(p, what.mode);
    }
  }
  return dir;
}

/** A layer tar of `dir` by GNU tar: the whole tree, or just `members` in that order (no recursion). */
export function layerTar(dir: string, out: string, members?: string[]): string {
  const which = members ? ['--no-recursion', ...members] : ['.'];
  execFileSync('tar', ['-C', dir, '--numeric-owner', '-cf', out, ...which]);
  return out;
}

export interface ImageSpec {
  /** Layer tars, uncompressed, bottom first. */
  layers: string[];
  /** Store them compressed (OCI only; docker save layers are plain tars). */
  compress?: 'gzip' | 'zstd';
  config?: Record<string, unknown>;
  /** Platform of the manifest in index.json; several give a multi-platform index (the others point at the same manifest). */
  platforms?: string[];
}

/** Node.js >= 22.15 compresses zstd. */
export const zstdCompressSync = (zlib as unknown as { zstdCompressSync?: (data: Buffer) => Buffer }).zstdCompressSync;

function compress(tar: Buffer, how: ImageSpec['compress']): Buffer {
  if (how === 'gzip') return zlib.gzipSync(tar);
  // Without Node's zstd, only a zstd frame header: enough for the import to say why it stops.
  if (how === 'zstd') return zstdCompressSync ? zstdCompressSync(tar) : Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tar]);
  return tar;
}

function configOf(spec: ImageSpec, tars: Buffer[]): Buffer {
  const body = { architecture: 'amd64', os: 'linux', config: spec.config ?? {}, rootfs: { type: 'layers', diff_ids: tars.map((t) => `sha256:${sha256(t)}`) } };
  return Buffer.from(JSON.stringify(body));
}

/** An OCI image layout directory. */
export function ociLayout(dir: string, spec: ImageSpec): string {
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer) => {
    const hex = sha256(data);
    fs.writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const tars = spec.layers.map((l) => fs.readFileSync(l));
  const layers = tars.map((t) => ({
    mediaType: `application/vnd.oci.image.layer.v1.tar${spec.compress ? `+${spec.compress}` : ''}`,
    ...put(compress(t, spec.compress)),
  }));
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(configOf(spec, tars)) };
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers })));
  const manifests = (spec.platforms ?? ['linux/amd64']).map((p) => {
    const [os, architecture, variant] = p.split('/');
    return { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { os, architecture, ...(variant ? { variant } : {}) } };
  });
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return dir;
}

/** A `docker save` directory (the classic layout: <id>/layer.tar, <config digest>.json, manifest.json). */
export function dockerSave(dir: string, spec: ImageSpec): string {
  fs.mkdirSync(dir, { recursive: true });
  const tars = spec.layers.map((l) => fs.readFileSync(l));
  const config = configOf(spec, tars);
  const configName = `${sha256(config)}.json`;
  fs.writeFileSync(path.join(dir, configName), config);
  const names = tars.map((t, i) => {
    const id = sha256(Buffer.from(`layer ${i} ${sha256(t)}`));
    fs.mkdirSync(path.join(dir, id));
    fs.writeFileSync(path.join(dir, id, 'layer.tar'), t);
    return `${id}/layer.tar`;
  });
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: ['fixture:latest'], Layers: names }]));
  return dir;
}

/** A tar of a layout directory (oci-archive, or docker save's output file). */
export function archiveOf(dir: string, out: string): string {
  execFileSync('tar', ['-C', dir, '-cf', out, '.']);
  return out;
}
