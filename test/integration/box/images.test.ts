/**
 * The image store (src/box/images.ts) with real archives made in the test: OCI layouts (directory
 * and oci-archive, gzip and plain layers) and docker save output are imported and the trees
 * checked (layers in order, whiteouts, opaque directories, hard links, modes); hostile layers
 * (`..`, absolute names, writing, linking and whiting out through symlinks that point out of the
 * tree) change nothing outside it, checked on a canary directory; a failed or interrupted import
 * leaves no image and no scratch directory; `jail image ls|rm|import` through the CLI, as root
 * and as an unprivileged user.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { importImage, imageRoot, listImages, removeImage, type ImageInfo } from '../../../src/box/images';
import { describeAsRoot, describeIf } from '../../helpers/env';
import { tarBuffer, type TarItem } from '../../helpers/tar-writer';
import { rejected } from '../../helpers/thrown';
import { assertBuilt, cli, killSpawned, SYSTEM_PATH, tempDir, waitFor } from '../core/helpers';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import { archiveOf, dockerSave, layerTar, ociLayout, writeTree, zstdCompressSync, type ImageSpec } from './image-fixtures';

let tmp: ReturnType<typeof tempDir>;
let stateDir: string;
let outside: string;

beforeEach(() => {
  tmp = tempDir('jail-it-images-');
  stateDir = path.join(tmp.dir, 'state');
  outside = writeTree(path.join(tmp.dir, 'outside'), { canary: 'canary\n', 'sub/file': 'sub\n' });
});
afterEach(() => {
  killSpawned();
  tmp.remove();
});

const at = (...p: string[]) => path.join(tmp.dir, ...p);
const rootfs = (name: string) => imageRoot(name, { stateDir });

/** Everything under the canary directory: names, contents, link counts. */
function outsideState(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(outside, p)} ${st.mode.toString(8)} ${st.nlink} ${st.isFile() ? fs.readFileSync(p, 'utf8') : ''}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(outside);
  return out;
}

/** The images directory holds exactly `names` (no scratch directory left over). */
function expectStore(names: string[]): void {
  const dir = path.join(stateDir, 'images');
  expect(fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []).toEqual(names);
}

/** A gzip layer of `n` small files: long enough to import that it can be interrupted. */
function slowLayer(n: number): string {
  const dir = at('many');
  for (let d = 0; d < n / 1000; d++) {
    fs.mkdirSync(path.join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < 1000; f++) fs.writeFileSync(path.join(dir, `d${d}`, `f${f}`), 'x'.repeat(100));
  }
  return ociLayout(at('layout'), { layers: [layerTar(dir, at('many.tar'))], compress: 'gzip' });
}

/** Two layers: files, links and a read-only directory; then whiteouts, an opaque directory, and writes through a symlink. */
function twoLayers(): string[] {
  const one = writeTree(at('l1'), {
    'etc/hello': 'hello\n',
    'etc/hello2': { hardlink: 'etc/hello' },
    'gone.txt': 'x',
    'dir/a': 'a',
    'dir/b': 'b',
    'keep/x': 'x',
    'usr/bin/tool': { mode: 0o4755, text: '#!/bin/sh\necho tool\n' },
    bin2: { symlink: 'usr/bin' },
    link: { symlink: 'etc/hello' },
    'ro/inside': 'i',
  });
  fs.chmodSync(at('l1', 'ro'), 0o555);
  const two = writeTree(at('l2'), { '.wh.gone.txt': '', 'dir/c': 'c', 'dir/.wh..wh..opq': '', 'keep/y': 'y', 'bin2/newtool': 'new', 'ro/later': 'l' });
  // Layer 2 names bin2/newtool without a bin2/ entry, as an engine does when a RUN step writes
  // through /bin -> usr/bin; and its opaque marker comes after dir/c, which it must not hide.
  return [layerTar(one, at('l1.tar')), layerTar(two, at('l2.tar'), ['./.wh.gone.txt', './dir', './dir/c', './dir/.wh..wh..opq', './keep/y', './bin2/newtool', './ro/later'])];
}

const RUN_CONFIG = { Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8'], Entrypoint: ['/usr/bin/tool'], Cmd: ['--help'], WorkingDir: '/work', User: '1000:1000' };

function checkTwoLayers(root: string): void {
  expect(fs.readFileSync(path.join(root, 'etc/hello'), 'utf8')).toBe('hello\n');
  expect(fs.statSync(path.join(root, 'etc/hello2')).ino).toBe(fs.statSync(path.join(root, 'etc/hello')).ino);
  expect(fs.existsSync(path.join(root, 'gone.txt'))).toBe(false);
  expect(fs.readdirSync(path.join(root, 'dir'))).toEqual(['c']);
  expect(fs.readdirSync(path.join(root, 'keep')).sort()).toEqual(['x', 'y']);
  expect(fs.readlinkSync(path.join(root, 'bin2'))).toBe('usr/bin');
  expect(fs.readFileSync(path.join(root, 'usr/bin/newtool'), 'utf8')).toBe('new');
  expect(fs.readlinkSync(path.join(root, 'link'))).toBe('etc/hello');
  expect(fs.statSync(path.join(root, 'ro')).mode & 0o7777).toBe(0o555);
  expect(fs.readdirSync(path.join(root, 'ro')).sort()).toEqual(['inside', 'later']);
}

describeAsRoot('jail image import: OCI layouts and docker save archives', () => {
  beforeAll(() => assertBuilt());

  const forms: [string, (spec: ImageSpec) => string, ImageInfo['source']['kind']][] = [
    ['an OCI layout directory with gzip layers', (s) => ociLayout(at('layout'), { ...s, compress: 'gzip' }), 'oci'],
    ['an oci-archive tar with plain layers', (s) => archiveOf(ociLayout(at('layout'), s), at('image.oci.tar')), 'oci'],
    ['a docker save tar', (s) => archiveOf(dockerSave(at('saved'), s), at('image.docker.tar')), 'docker'],
    ['docker save output as a directory', (s) => dockerSave(at('saved'), s), 'docker'],
  ];

  it.each(forms)('%s: layers in order, whiteouts, opaque dirs, links, modes, owners, run config', async (_what, make, kind) => {
    const source = make({ layers: twoLayers(), config: RUN_CONFIG });
    const info = await importImage('app', source, { stateDir });
    const root = rootfs('app');
    expect(root).toBe(path.join(stateDir, 'images', 'app', 'rootfs'));
    checkTwoLayers(root);
    const tool = fs.statSync(path.join(root, 'usr/bin/tool'));
    // Set-id bits never reach the store (inert in a jail, a way up on the host).
    expect([tool.mode & 0o7777, tool.uid, tool.gid]).toEqual([0o755, 0, 0]);
    expect(info).toMatchObject({ name: 'app', source: { kind, path: source, platform: 'linux/amd64' } });
    expect(info.config).toEqual({ env: RUN_CONFIG.Env, entrypoint: RUN_CONFIG.Entrypoint, cmd: RUN_CONFIG.Cmd, workingDir: '/work', user: '1000:1000' });
    expect(info.sizeBytes).toBe(['hello\n', 'x', '#!/bin/sh\necho tool\n', 'i', 'c', 'y', 'new', 'l'].join('').length);
    expect(JSON.parse(fs.readFileSync(path.join(stateDir, 'images', 'app', 'image.json'), 'utf8'))).toEqual(info);
    expect(listImages({ stateDir })).toEqual([info]);
    expect(fs.statSync(path.join(stateDir, 'images')).mode & 0o777).toBe(0o711);
    expectStore(['app']);
  });

  it('a plain directory tree is copied as it is (modes, owners, hard links, symlinks)', async () => {
    const src = writeTree(at('tree'), { 'bin/sh-like': { mode: 0o755, text: 'x' }, 'a/b': 'b', 'a/c': { hardlink: 'a/b' }, 'l': { symlink: '/etc/passwd' } });
    fs.chownSync(at('tree', 'a/b'), 1234, 5678);
    const info = await importImage('tree', src, { stateDir });
    expect(info.source).toEqual({ kind: 'dir', path: src });
    const root = rootfs('tree');
    const b = fs.statSync(path.join(root, 'a/b'));
    expect([b.uid, b.gid, b.nlink]).toEqual([1234, 5678, 2]);
    expect(fs.statSync(path.join(root, 'bin/sh-like')).mode & 0o777).toBe(0o755);
    expect(fs.readlinkSync(path.join(root, 'l'))).toBe('/etc/passwd');
  });

  it("takes the host's platform from a multi-platform index, or the one --platform names; lists them otherwise", async () => {
    const layers = twoLayers();
    const src = ociLayout(at('multi'), { layers, platforms: ['linux/arm64/v8', 'linux/amd64', 'linux/s390x'] });
    expect((await importImage('multi', src, { stateDir })).source).toMatchObject({ platform: 'linux/amd64' });
    expect((await importImage('arm', src, { stateDir, platform: 'linux/arm64' })).source).toMatchObject({ platform: 'linux/arm64/v8' });
    const e = await rejected(importImage('riscv', src, { stateDir, platform: 'linux/riscv64' }));
    expect(e.message).toBe(`${src}: no image for linux/riscv64; it has: linux/arm64/v8, linux/amd64, linux/s390x`);
    expectStore(['arm', 'multi']);
  });

  it('an existing name is an error unless force, which replaces the image whole', async () => {
    const src = ociLayout(at('layout'), { layers: twoLayers() });
    await importImage('app', src, { stateDir });
    const e = await rejected(importImage('app', src, { stateDir }));
    expect(e.message).toBe("image 'app' exists");
    expect(e.hint).toMatch(/jail image rm app.*--force/);
    const other = writeTree(at('other'), { only: 'me' });
    await importImage('app', other, { stateDir, force: true });
    expect(fs.readdirSync(rootfs('app'))).toEqual(['only']);
    expectStore(['app']);
  });

  it('a layer whose digest differs from the manifest’s is refused, and nothing is stored', async () => {
    const layout = ociLayout(at('layout'), { layers: twoLayers(), compress: 'gzip' });
    const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(fs.readFileSync(path.join(layout, 'blobs', index.manifests[0].digest.replace(':', '/')), 'utf8'));
    const blob = path.join(layout, 'blobs', manifest.layers[1].digest.replace(':', '/'));
    const data = fs.readFileSync(blob);
    data[data.length - 5] ^= 0xff; // gzip's CRC/size trailer: still decompresses to a layer, or fails; either way not this digest
    fs.writeFileSync(blob, data);
    await expect(importImage('bad', layout, { stateDir })).rejects.toThrow(/digest|gzip|incorrect|unexpected/i);
    expectStore([]);
  });

  it("a docker layer that is not the one the config's diff_ids name is refused", async () => {
    const [one, two] = twoLayers();
    const saved = dockerSave(at('saved'), { layers: [one, two] });
    const manifest = JSON.parse(fs.readFileSync(path.join(saved, 'manifest.json'), 'utf8'));
    fs.copyFileSync(one, path.join(saved, manifest[0].Layers[1]));
    await expect(importImage('bad', saved, { stateDir })).rejects.toThrow(/an uncompressed layer has digest sha256:\w+, but the image names sha256:/);
    expectStore([]);
  });

  it('a truncated archive or a layer that is not a tar is refused, and nothing is stored', async () => {
    const archive = archiveOf(ociLayout(at('layout'), { layers: twoLayers() }), at('image.tar'));
    fs.truncateSync(archive, fs.statSync(archive).size - 3000);
    await expect(importImage('cut', archive, { stateDir })).rejects.toThrow(/ends inside an entry|missing|no index.json/);
    fs.writeFileSync(at('junk.tar'), 'this is not a tar file at all'.repeat(40));
    await expect(importImage('junk', at('junk.tar'), { stateDir })).rejects.toThrow(/not a valid tar archive/);
    await expect(importImage('none', at('does-not-exist'), { stateDir })).rejects.toThrow(/no such file or directory/);
    expectStore([]);
  });

  it('zstd layers are read where Node.js can (>= 22.15), and refused with the reason elsewhere', async () => {
    const src = ociLayout(at('layout'), { layers: twoLayers(), compress: 'zstd' });
    if (zstdCompressSync) {
      await importImage('z', src, { stateDir });
      return checkTwoLayers(rootfs('z'));
    }
    const e = await rejected(importImage('z', src, { stateDir }));
    expect(e.message).toMatch(/a layer is zstd-compressed, which this Node.js \(v[\d.]+\) cannot read/);
    expect(e.hint).toMatch(/Node.js >= 22.15/);
    expectStore([]);
  });

  it('a build interrupted through its AbortSignal leaves nothing; a dead process’s scratch directory is swept', async () => {
    fs.mkdirSync(path.join(stateDir, 'images', '.tmp-app-999999999-0badf00d', 'rootfs'), { recursive: true });
    const abort = new AbortController();
    const pending = importImage('big', slowLayer(30_000), { stateDir, signal: abort.signal });
    setTimeout(() => abort.abort(), 300);
    await expect(pending).rejects.toThrow(/abort/i);
    expectStore([]);
  });
});

/** An OCI layout of hostile layers (bytes written by hand: no tar program writes these). */
function hostile(name: string, ...layers: TarItem[][]): string {
  const tars = layers.map((items, i) => {
    const file = at(`${name}-${i}.tar`);
    fs.writeFileSync(file, tarBuffer(items));
    return file;
  });
  return ociLayout(at(name), { layers: tars });
}

describeAsRoot('jail image import: hostile layers stay inside the image', () => {
  it('writes through symlinks to outside, absolute names, whiteouts and opaque markers through them: all land inside', async () => {
    const before = outsideState();
    const src = hostile(
      'contained',
      [
        { path: 'evil', type: '2', linkpath: outside },
        { path: 'evil/pwned', data: 'p' },
        { path: 'up', type: '2', linkpath: '../../../../../../../..' + outside },
        { path: 'up/pwned2', data: 'p' },
        { path: `${outside}/pwned3`, data: 'p' },
        { path: 'target', type: '2', linkpath: `${outside}/canary` },
        { path: 'evil/.wh.canary' },
        { path: 'up/sub/.wh..wh..opq' },
      ],
      [
        // Layer 2: a file where layer 1 left a symlink to the canary replaces the link.
        { path: 'target', data: 'overwritten' },
        { path: 'evil/sub/.wh.file' },
        { path: 'hl', type: '1', linkpath: 'target' },
      ],
    );
    await importImage('contained', src, { stateDir });
    expect(outsideState()).toEqual(before);
    const root = rootfs('contained');
    const inside = path.join(root, outside);
    expect(fs.readdirSync(inside).sort()).toEqual(['pwned', 'pwned2', 'pwned3']);
    expect(fs.lstatSync(path.join(root, 'target')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(root, 'hl'), 'utf8')).toBe('overwritten');
  });

  // Functions: `outside` is known only once a test runs.
  const refusals: [string, () => TarItem[], RegExp][] = [
    ['a name with ..', () => [{ path: `../../../../../../..${outside}/pwned`, data: 'p' }], /has a '\.\.' component/],
    ['a name with .. inside', () => [{ path: 'a/../../outside/pwned', data: 'p' }], /has a '\.\.' component/],
    ['a hard link to an absolute host path', () => [{ path: 'hl', type: '1', linkpath: `${outside}/canary` }], /hard link to .* not a file earlier in the image/],
    ['a hard link with ..', () => [{ path: 'hl', type: '1', linkpath: `../../../../../..${outside}/canary` }], /has a '\.\.' component/],
    ['a hard link through a symlink to outside', () => [{ path: 'esc', type: '2', linkpath: outside }, { path: 'hl', type: '1', linkpath: 'esc/canary' }], /not a file earlier in the image/],
    ['a symlink loop', () => [{ path: 'a', type: '2', linkpath: 'b' }, { path: 'b', type: '2', linkpath: 'a' }, { path: 'a/x', data: 'x' }], /more than 40 symlinks/],
    ['a symlink to nothing', () => [{ path: 'empty', type: '2', linkpath: '' }], /writing layer entry 'empty' failed: ENOENT/],
    ['a file used as a directory', () => [{ path: 'f', data: 'x' }, { path: 'f/x', data: 'x' }], /'f' on its way is not a directory/],
  ];

  it.each(refusals)('%s is refused; nothing outside changes, nothing is stored', async (name, items, why) => {
    const before = outsideState();
    const e = await rejected(importImage('bad', hostile(name.replace(/\W+/g, '-'), items()), { stateDir }));
    expect(e.message).toMatch(why);
    expect(outsideState()).toEqual(before);
    expectStore([]);
  });
});

describeAsRoot('jail image: the CLI', () => {
  beforeAll(() => assertBuilt());
  const env = () => ({ PATH: SYSTEM_PATH, JAIL_STATE_DIR: stateDir });

  it('import, ls (table and --json), rm; errors name the value and the fix', async () => {
    const src = archiveOf(ociLayout(at('layout'), { layers: twoLayers(), config: RUN_CONFIG }), at('image.tar'));
    const imported = await cli(['image', 'import', 'app', src], { env: env() });
    expect(imported.stderr).toMatch(/^layer 1\/2 \(\d+ bytes\)\nlayer 2\/2 \(\d+ bytes\)\nimage 'app': 0\.0 MiB, oci /);
    expect(imported.code).toBe(0);

    const ls = await cli(['image', 'ls'], { env: env() });
    expect(ls.stdout).toMatch(new RegExp(`^NAME +SIZE +CREATED +SOURCE\napp +0\\.0 MiB +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ +oci ${src}\n$`));
    const json = JSON.parse((await cli(['image', 'ls', '--json'], { env: env() })).stdout) as ImageInfo[];
    expect(json.map((i) => [i.name, i.source.kind, i.config?.workingDir])).toEqual([['app', 'oci', '/work']]);

    const again = await cli(['image', 'import', 'app', src], { env: env() });
    expect([again.code, again.stderr]).toEqual([255, "image 'app' exists\n  hint: remove it first (jail image rm app) or replace it with --force\n"]);

    expect((await cli(['image', 'rm', 'app'], { env: env() })).code).toBe(0);
    expectStore([]);
    const missing = await cli(['image', 'rm', 'app'], { env: env() });
    expect([missing.code, missing.stderr]).toEqual([255, "no image 'app'\n  hint: jail image ls lists them; build one with jail image build app --debian bookworm\n"]);
    const badName = await cli(['image', 'import', '../x', src], { env: env() });
    expect(badName.stderr).toMatch(/^'\.\.\/x' is not a valid image name/);
    expect((await cli(['image', 'ls'], { env: env() })).stdout).toBe('NAME  SIZE  CREATED  SOURCE\n');
    expect(() => removeImage('app', { stateDir })).toThrow(/no image 'app'/);
  });

  it('SIGINT during an import stops it with 130 and stores nothing', async () => {
    const src = slowLayer(30_000);
    const r = await cli(['image', 'import', 'big', src], {
      env: env(),
      timeoutMs: 60_000,
      onSpawn: (child) => void waitFor(() => fs.existsSync(path.join(stateDir, 'images')) && fs.readdirSync(path.join(stateDir, 'images')).length > 0, 20_000, 'the scratch directory').then(() => child.kill('SIGINT')),
    });
    expect(r.stderr).toMatch(/\njail image: interrupted; nothing was stored\n$/);
    expect(r.code).toBe(130);
    expectStore([]);
  });

  it('build without mmdebstrap on PATH says how to install it', async () => {
    const r = await cli(['image', 'build', 'deb', '--debian', 'bookworm'], { env: { PATH: '/nonexistent', JAIL_STATE_DIR: stateDir } });
    expect(r.stderr).toBe('mmdebstrap is not installed (jail image build --debian runs it)\n  hint: apt-get install mmdebstrap\n');
    expect(r.code).toBe(255);
    expectStore([]);
  });
});

describeIf('jail image import as an unprivileged user', rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-images');

  it('imports into its own state directory: files are its own, set-id bits dropped, read-only dirs still removable', async () => {
    const { user, jail } = fixture();
    const src = archiveOf(ociLayout(at('layout'), { layers: twoLayers(), config: RUN_CONFIG }), at('image.tar'));
    fs.chmodSync(src, 0o644);
    fs.chownSync(tmp.dir, user.uid, user.gid);
    const env = { PATH: SYSTEM_PATH, HOME: '/', JAIL_STATE_DIR: stateDir };
    const r = await jail(['image', 'import', 'app', src], { env });
    expect(r.stderr).toMatch(/image 'app'/);
    expect(r.code).toBe(0);
    const root = path.join(stateDir, 'images', 'app', 'rootfs');
    checkTwoLayers(root);
    const tool = fs.statSync(path.join(root, 'usr/bin/tool'));
    expect([tool.mode & 0o7777, tool.uid, tool.gid]).toEqual([0o755, user.uid, user.gid]);
    expect((await jail(['image', 'rm', 'app'], { env })).code).toBe(0);
    expectStore([]);
  });
});
