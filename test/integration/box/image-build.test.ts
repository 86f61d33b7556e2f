/**
 * `jail image build --debian`: a real minimal Debian image from deb.debian.org by mmdebstrap
 * (about 15 s on the development VM), then a jail running its /bin/sh; and a build interrupted
 * by SIGINT, which must leave neither an image nor mmdebstrap behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ImageInfo } from '../../../src/box/images';
import { describeIf } from '../../helpers/env';
import { assertBuilt, cli, hasTool, killSpawned, liveProcessesNamed, sleep, SYSTEM_PATH, tempDir, waitFor } from '../core/helpers';

describeIf('jail image build --debian (mmdebstrap, network)', hasTool('mmdebstrap') ? null : 'mmdebstrap is not installed (apt-get install mmdebstrap)', () => {
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
