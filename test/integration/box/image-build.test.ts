/**
 * `jail image build --debian`: a real minimal Debian image from deb.debian.org by mmdebstrap
 * (15-40 s on the development VM, depending on the mirror), then a jail running its /bin/sh, as
 * root and as an unprivileged user (mmdebstrap --mode=unshare); and a build interrupted by
 * SIGINT, which must leave neither an image nor mmdebstrap behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ImageInfo } from '../../../src/box/images';
import { describeIf } from '../../helpers/env';
import { rootlessReason, unprivilegedUser } from '../unprivileged-user';
import { assertBuilt, cli, hasTool, killSpawned, liveProcessesNamed, sleep, SYSTEM_PATH, tempDir, waitFor } from '../core/helpers';

const noMmdebstrap = hasTool('mmdebstrap') ? null : 'mmdebstrap is not installed (apt-get install mmdebstrap)';

describeIf('jail image build --debian (mmdebstrap, network)', noMmdebstrap, () => {
  let tmp: ReturnType<typeof tempDir>;
  const env = () => ({ PATH: SYSTEM_PATH, JAIL_STATE_DIR: tmp.dir });
  const images = () => fs.readdirSync(path.join(tmp.dir, 'images')).sort();

  beforeAll(() => {
    assertBuilt();
    tmp = tempDir('jail-it-image-build-');
  });
  afterAll(() => {
    killSpawned();
    tmp.remove();
  });

  it('builds bookworm minbase, whose /bin/sh runs in a jail', async () => {
    const r = await cli(['image', 'build', 'deb', '--debian', 'bookworm', '--variant', 'minbase'], { env: env(), timeoutMs: 600_000 });
    expect(r.stderr).toMatch(/^I: /m); // mmdebstrap's progress, streamed
    expect(r.stderr).toMatch(/\nimage 'deb': \d+\.\d MiB, debian bookworm minbase\n$/);
    expect(r.code).toBe(0);
    console.log(`mmdebstrap build of bookworm minbase: ${(r.wallMs / 1000).toFixed(1)} s`);

    const info = JSON.parse((await cli(['image', 'ls', '--json'], { env: env() })).stdout)[0] as ImageInfo;
    expect(info).toMatchObject({ name: 'deb', source: { kind: 'debian', suite: 'bookworm', variant: 'minbase', packages: [] } });
    expect(info.sizeBytes).toBeGreaterThan(50 << 20);
    const rootfs = path.join(tmp.dir, 'images', 'deb', 'rootfs');
    expect(fs.readFileSync(path.join(rootfs, 'etc/debian_version'), 'utf8')).toMatch(/^12\./);
    expect(fs.readdirSync(path.join(rootfs, 'dev')).sort()).toEqual(['fd', 'pts', 'shm', 'stderr', 'stdin', 'stdout']); // no device nodes

    const run = await cli(['-q', '--chroot', rootfs, '--', '/bin/sh', '-c', 'echo ok; cat /etc/debian_version'], { env: env() });
    expect(run.stdout).toMatch(/^ok\n12\.\d+\n$/);
    expect(run.code).toBe(0);
  });

  it('SIGINT during the build exits 130, stores nothing, and leaves no mmdebstrap running', async () => {
    let sent = false;
    const r = await cli(['image', 'build', 'deb2', '--debian', 'bookworm'], {
      env: env(),
      timeoutMs: 120_000,
      onSpawn: (child) =>
        void waitFor(() => liveProcessesNamed('mmdebstrap').length > 0, 30_000, 'mmdebstrap').then(async () => {
          await sleep(3000); // mid-download or mid-install
          sent = true;
          child.kill('SIGINT');
        }),
    });
    expect(sent).toBe(true);
    expect(r.stderr).toMatch(/^I: [^]*\njail image: interrupted; nothing was stored\n$/);
    expect(r.code).toBe(130);
    expect(images()).toEqual(['deb']);
    await waitFor(() => liveProcessesNamed('mmdebstrap').length === 0, 10_000, 'mmdebstrap to exit');
  });
});

describeIf('jail image build --debian as an unprivileged user (mmdebstrap --mode=unshare)', noMmdebstrap ?? rootlessReason(), () => {
  const fixture = unprivilegedUser('jail-it-imgbuild');

  it('builds into its own state directory, files its own and without set-id bits, runs in a rootless jail, and is removed', async () => {
    const { user, dir, jail } = fixture();
    const state = path.join(dir, 'state');
    fs.mkdirSync(state);
    fs.chownSync(state, user.uid, user.gid);
    const env = { PATH: SYSTEM_PATH, HOME: '/', JAIL_STATE_DIR: state };
    const r = await jail(['image', 'build', 'deb', '--debian', 'bookworm'], { env, timeoutMs: 600_000 });
    expect(r.stderr).toMatch(/\nimage 'deb': \d+\.\d MiB, debian bookworm minbase\n$/);
    expect(r.code).toBe(0);
    console.log(`rootless mmdebstrap build of bookworm minbase: ${(r.wallMs / 1000).toFixed(1)} s`);
    const rootfs = path.join(state, 'images', 'deb', 'rootfs');
    const su = fs.statSync(path.join(rootfs, 'usr/bin/su'));
    expect([su.uid, su.mode & 0o7777]).toEqual([user.uid, 0o755]);
    const run = await jail(['-q', '--chroot', rootfs, '--', '/bin/sh', '-c', 'echo ok'], { env });
    expect([run.stdout, run.code]).toEqual(['ok\n', 0]);
    expect((await jail(['image', 'rm', 'deb'], { env })).code).toBe(0);
    expect(fs.readdirSync(path.join(state, 'images'))).toEqual([]);
  });
});
