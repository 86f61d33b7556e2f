/**
 * Reading image manifests (src/box/oci.ts): platform choice in an index, digests, docker save's
 * manifest.json, and the config fields kept for boxes. Layouts are written to a temp directory
 * as plain files; applying layers is tested in test/integration/box/images.test.ts.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { directoryFiles, parseDigest, pickManifest, readDockerImage, readOciImage } from '../../../src/box/oci';
import { thrown } from '../../helpers/thrown';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const amd64 = { digest: D('a'), platform: { os: 'linux', architecture: 'amd64' } };
const arm64 = { digest: D('b'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } };
const attestation = { digest: D('c'), platform: { os: 'unknown', architecture: 'unknown' } };

describe('pickManifest', () => {
  it('takes the manifest of the wanted platform, ignoring attestations', () => {
    expect(pickManifest([arm64, amd64, attestation], 'linux/amd64', 'x')).toBe(amd64);
    expect(pickManifest([arm64, amd64], 'linux/arm64', 'x')).toBe(arm64);
    expect(pickManifest([arm64, amd64], 'linux/arm64/v8', 'x')).toBe(arm64);
  });

  it('takes a lone manifest without a platform', () => {
    const lone = { digest: D('d') };
    expect(pickManifest([lone], 'linux/amd64', 'x')).toBe(lone);
  });

  it('lists what there is when nothing matches, or several do', () => {
    const none = thrown(() => pickManifest([arm64, attestation], 'linux/amd64', 'img.tar'));
    expect(none.message).toBe('img.tar: no image for linux/amd64; it has: linux/arm64/v8, unknown/unknown');
    expect(none.hint).toMatch(/--platform/);
    const two = thrown(() => pickManifest([amd64, { ...amd64, digest: D('e'), annotations: { 'org.opencontainers.image.ref.name': 'v2' } }], 'linux/amd64', 'img.tar'));
    expect(two.message).toMatch(/2 images for linux\/amd64; it has: linux\/amd64, linux\/amd64 \(v2\)/);
    expect(thrown(() => pickManifest([{ digest: D('d') }, { digest: D('e') }], 'linux/amd64', 'x')).message).toMatch(/no image for linux\/amd64/);
  });
});

describe('parseDigest', () => {
  it('accepts sha256 digests only', () => {
    expect(parseDigest(D('0'), 'x')).toBe(D('0'));
    for (const bad of ['sha512:' + 'a'.repeat(128), 'sha256:ABC', D('a') + '/../x', 42]) expect(thrown(() => parseDigest(bad, 'x')).message).toMatch(/unsupported digest/);
  });
});

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jail-oci-unit-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Writes `files` into a fresh directory; JSON values are serialized. Returns the directory. */
function layout(name: string, files: Record<string, unknown>): string {
  const dir = path.join(root, name);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content));
  }
  return dir;
}

const digestOf = (data: string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blob = (data: string) => [`blobs/sha256/${digestOf(data).slice(7)}`, data] as const;

describe('readOciImage / readDockerImage', () => {
  const layer = 'not read here';
  const config = JSON.stringify({
    os: 'linux',
    architecture: 'amd64',
    config: { Env: ['PATH=/usr/bin', 'A=1'], Cmd: ['/bin/sh'], Entrypoint: null, WorkingDir: '/work', User: '1000:1000', ExposedPorts: {} },
    rootfs: { type: 'layers', diff_ids: [D('f')] },
  });
  const manifest = JSON.stringify({ schemaVersion: 2, config: { digest: digestOf(config), size: config.length }, layers: [{ digest: digestOf(layer), size: layer.length }] });

  it('follows index → manifest → config and layers, keeping the run config', () => {
    const dir = layout('oci', Object.fromEntries([blob(layer), blob(config), blob(manifest), ['index.json', { manifests: [{ ...amd64, digest: digestOf(manifest) }] }]]));
    const image = readOciImage(directoryFiles(dir), 'linux/amd64');
    expect(image).toMatchObject({ format: 'oci', ref: digestOf(manifest), platform: 'linux/amd64' });
    expect(image.config).toEqual({ env: ['PATH=/usr/bin', 'A=1'], cmd: ['/bin/sh'], entrypoint: undefined, workingDir: '/work', user: '1000:1000' });
    expect(image.layers).toEqual([{ blob: { file: path.join(fs.realpathSync(dir), blob(layer)[0]), start: 0, size: layer.length }, digest: digestOf(layer), diffId: D('f') }]);
  });

  it('follows a nested index', () => {
    const inner = JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...amd64, digest: digestOf(manifest) }] });
    const dir = layout('nested', Object.fromEntries([blob(layer), blob(config), blob(manifest), blob(inner), ['index.json', { manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: digestOf(inner) }] }]]));
    expect(readOciImage(directoryFiles(dir), 'linux/amd64').ref).toBe(digestOf(manifest));
  });

  it('refuses a manifest or config whose digest is not the one named', () => {
    const dir = layout('tampered', Object.fromEntries([blob(layer), [blob(config)[0], config.replace('/work', '/evil')], blob(manifest), ['index.json', { manifests: [{ digest: digestOf(manifest) }] }]]));
    expect(thrown(() => readOciImage(directoryFiles(dir))).message).toMatch(/has digest sha256:[0-9a-f]{64}, but the image names sha256:/);
  });

  it('refuses a config whose diff_ids do not match the layers', () => {
    const short = JSON.stringify({ rootfs: { diff_ids: [] } });
    const m = JSON.stringify({ config: { digest: digestOf(short) }, layers: [{ digest: digestOf(layer) }] });
    const dir = layout('diffids', Object.fromEntries([blob(layer), blob(short), blob(m), ['index.json', { manifests: [{ digest: digestOf(m) }] }]]));
    expect(thrown(() => readOciImage(directoryFiles(dir))).message).toMatch(/lists 0 layer digests \(rootfs.diff_ids\) for 1 layers/);
  });

  it('names a missing layer', () => {
    const dir = layout('missing', Object.fromEntries([blob(config), blob(manifest), ['index.json', { manifests: [{ digest: digestOf(manifest) }] }]]));
    expect(thrown(() => readOciImage(directoryFiles(dir))).message).toMatch(/layer 1 \(sha256:[0-9a-f]+\) is missing/);
  });

  it('reads docker save output: manifest.json with Config and Layers', () => {
    const hex = digestOf(config).slice(7);
    const dir = layout('docker', { [`${hex}.json`]: config, 'abc/layer.tar': layer, 'manifest.json': [{ Config: `${hex}.json`, RepoTags: ['x:latest'], Layers: ['abc/layer.tar'] }] });
    const image = readDockerImage(directoryFiles(dir));
    expect(image).toMatchObject({ format: 'docker', ref: 'x:latest', platform: 'linux/amd64', config: { cmd: ['/bin/sh'] } });
    expect(image.layers).toEqual([{ blob: expect.objectContaining({ size: layer.length }), diffId: D('f') }]);
  });

  it('refuses docker save output of several images, naming them', () => {
    const dir = layout('docker2', { 'manifest.json': [{ RepoTags: ['a:1'] }, { RepoTags: ['b:2'] }] });
    const e = thrown(() => readDockerImage(directoryFiles(dir)));
    expect(e.message).toMatch(/lists 2 images \(a:1, b:2\); one is imported at a time/);
  });

  it('does not follow a layout file out of its directory', () => {
    const dir = layout('escape', { 'manifest.json': [{ Config: '../oci/index.json', Layers: [] }] });
    fs.symlinkSync('/etc/passwd', path.join(dir, 'passwd'));
    const files = directoryFiles(dir);
    expect(files.get('../oci/index.json')).toBeNull();
    expect(files.get('passwd')).toBeNull();
    expect(thrown(() => readDockerImage(files)).message).toMatch(/no \.\.\/oci\/index\.json/);
  });
});
