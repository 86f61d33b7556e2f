/**
 * Mount points are created and mounted on as seen from inside the jail: a symlink planted in a
 * writable bind (say by an earlier jail in a persistent workspace) cannot make jail create
 * directories on the host or mount outside the jail's root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { cli, cliFixture } from './helpers';

const SYSTEM = ['-R', '/bin', '-R', '/lib', '-R', '/lib64', '-R', '/usr'];

describeAsRoot('mount points resolve inside the jail root', () => {
  const tmp = cliFixture();

  it('a symlink to a host path inside a writable bind does not lead a mount point out of the jail', async () => {
    const ws = path.join(tmp().dir, 'ws');
    const outside = path.join(tmp().dir, 'outside');
    fs.mkdirSync(ws);
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(ws, 'link'));
    const r = await cli(['-Q', '-B', `${ws}:/ws`, '-T', '/ws/link/sub', ...SYSTEM, '--', '/bin/true']);
    // Inside the jail the link points at a path that does not exist there: the launch fails...
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('tmpfs -> /ws/link/sub');
    expect(r.stderr).toContain('ENOENT');
    // ...and nothing was created where the link points on the host.
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('a symlink that stays inside the jail is followed there as usual', async () => {
    const ws = path.join(tmp().dir, 'ws2');
    fs.mkdirSync(path.join(ws, 'real'), { recursive: true });
    fs.symlinkSync('/ws/real', path.join(ws, 'inner'));
    const r = await cli(['-Q', '-B', `${ws}:/ws`, '-T', '/ws/inner/cache', ...SYSTEM, '--', '/bin/sh', '-c', 'touch /ws/real/cache/x && grep -c " /ws/real/cache tmpfs " /proc/self/mounts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('1');
    // The mount point was made inside the workspace, where the link leads inside the jail.
    expect(fs.statSync(path.join(ws, 'real', 'cache')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(ws, 'real', 'cache'))).toEqual([]);
  });
});
