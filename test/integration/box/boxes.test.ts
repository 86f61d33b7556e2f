/**
 * Boxes against the real kernel, as root: the lifecycle through the CLI, exec's confinement
 * checked from outside (namespaces, cgroup, seccomp, capabilities of the exec'd process against
 * the init's), the workspace's ownership and checks, ephemeral and persistent roots and `diff`,
 * file access that a planted link cannot turn onto the host, the supervisor SIGKILLed, locking,
 * the idle timeout, the setup script, profiles' errors, protected paths and limits.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as box from '../../../src/box';
import { loadAddon } from '../../../src/native/addon';
import { sleep, waitFor } from '../core/helpers';
import { boxFixture, initsOf, jailOnTerminal, miniRootfs, namespacesOf, runtimeOf } from './box-helpers';

const isRoot = process.getuid!() === 0;

describe.skipIf(!isRoot)('boxes (root)', () => {
  const fx = boxFixture();

  it('create, start, exec, ls, status, stop, start again, rm', async () => {
    const { jail } = fx();
    const ws = fx().workspace('life');
    expect((await jail(['box', 'create', 'life', '--workspace', ws])).code).toBe(0);
    let ls = await jail(['box', 'ls', '--json']);
    expect(JSON.parse(ls.stdout)).toMatchObject([{ name: 'life', state: 'stopped', workspace: ws }]);
    const start = await jail(['box', 'start', 'life']);
    expect(start.code, start.stderr).toBe(0);
    const again = await jail(['box', 'start', 'life']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("box 'life' is already running");

    const r = await jail(['box', 'exec', 'life', '--', 'sh', '-c', 'echo out; echo err >&2; id -u; pwd; exit 7']);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe('out\n1000\n/workspace\n');
    expect(r.stderr).toBe('err\n');
    const missing = await jail(['box', 'exec', 'life', '--', 'no-such-program']);
    expect(missing.code).toBe(255);
    expect(missing.stderr).toContain('cannot run "no-such-program": ENOENT');

    ls = await jail(['box', 'ls']);
    expect(ls.stdout).toMatch(/^NAME\s+STATE\s+IMAGE\s+UPTIME\s+MEMORY\s+WORKSPACE\nlife\s+running\s+\(host\)\s+\d+s\s+\S+ \S+\s+/);
    const status = JSON.parse((await jail(['box', 'status', 'life', '--json'])).stdout);
    expect(status).toMatchObject({ name: 'life', state: 'running', persistent: false, network: 'none' });
    expect(status.memoryBytes).toBeGreaterThan(0);
    expect(status.memoryBytes).toBeLessThan(64 << 20);

    expect((await jail(['box', 'stop', 'life'])).stdout).toBe('stopped box life\n');
    expect(initsOf(fx().state)).toEqual([]);
    const stopped = await jail(['box', 'exec', 'life', '--', 'true']);
    expect(stopped.stderr).toContain("box 'life' is stopped, not running");
    expect((await jail(['box', 'start', 'life'])).code).toBe(0);
    expect((await jail(['box', 'exec', 'life', '--', 'true'])).code).toBe(0);
    const rm = await jail(['box', 'rm', 'life']);
    expect(rm.stderr).toContain("box 'life' is running");
    expect((await jail(['box', 'rm', '--force', 'life'])).code).toBe(0);
    expect(fs.existsSync(path.join(fx().state, 'boxes', 'life'))).toBe(false);
    // The workspace is the user's: it stays.
    expect(fs.existsSync(ws)).toBe(true);
  });

  it('an exec has exactly the init\'s confinement: namespaces, cgroup, seccomp, no capabilities, no_new_privs', async () => {
    const { jail, state } = fx();
    await jail(['box', 'create', 'conf', '--workspace', fx().workspace('conf'), '--memory', '256M', '--pids', '64']);
    expect((await jail(['box', 'start', 'conf'])).code).toBe(0);
    const { initPid } = runtimeOf(state, 'conf');
    let hostPid = 0;
    // A program that stays up while it is inspected from outside.
    const sleeper = jail(['box', 'exec', 'conf', '--', 'sh', '-c', 'echo ready; exec sleep 30'], { timeoutMs: 40_000 });
    await waitFor(() => {
      const kids = fs.readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      hostPid = kids.map(Number).find((k) => fs.readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'sleep') ?? 0;
      return hostPid > 0;
    }, 10_000, 'the exec to run');
    expect(namespacesOf(hostPid)).toEqual(namespacesOf(initPid));
    expect(fs.readFileSync(`/proc/${hostPid}/cgroup`, 'utf8')).toBe(fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8'));
    const status = fs.readFileSync(`/proc/${hostPid}/status`, 'utf8');
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(status).toMatch(new RegExp(`^${set}:\\s+0+$`, 'm'));
    // The same filter as the init's, not merely some filter.
    expect(status.match(/^Seccomp_filters:\s+(\d+)$/m)![1]).toBe(fs.readFileSync(`/proc/${initPid}/status`, 'utf8').match(/^Seccomp_filters:\s+(\d+)$/m)![1]);
    // The box's limits are in its cgroup, read from the host.
    const memLine = fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8').split('\n').find((l) => /:memory:/.test(l));
    if (memLine) expect(fs.readFileSync(`/sys/fs/cgroup/memory${memLine.split(':')[2]}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(256 << 20));
    process.kill(hostPid, 'SIGKILL');
    expect((await sleeper).code).toBe(137);
    // The init's fds (its control socket, a host file) and memory are out of the programs' reach.
    const peek = await jail(['box', 'exec', 'conf', '--', 'sh', '-c', 'ls /proc/1/fd; echo rc=$?; cat /proc/1/environ; echo rc=$?']);
    expect(peek.stdout).toBe('rc=2\nrc=1\n');
    expect(peek.stderr).toMatch(/ls: cannot open directory '\/proc\/1\/fd': Permission denied[\s\S]*Permission denied/);
    // The box's default seccomp policy refuses what container runtimes refuse.
    const denied = await jail(['box', 'exec', 'conf', '--', 'sh', '-c', 'unshare -U true 2>&1; echo rc=$?']);
    expect(denied.stdout).toMatch(/Operation not permitted[\s\S]*rc=1/);
  });

  it('the workspace belongs to its owner on the host; unsafe workspaces are refused', async () => {
    const { jail } = fx();
    const ws = fx().workspace('own', 4321, 4322);
    await jail(['box', 'create', 'own', '--workspace', ws]);
    await jail(['box', 'start', 'own']);
    expect((await jail(['box', 'exec', 'own', '--', 'sh', '-c', 'echo hi > made-inside; mkdir d'])).code).toBe(0);
    for (const f of ['made-inside', 'd']) expect(fs.statSync(path.join(ws, f))).toMatchObject({ uid: 4321, gid: 4322 });

    const link = path.join(fx().dir, 'link-to-etc');
    fs.symlinkSync('/etc', link);
    for (const [spec, why] of [
      ['/', 'it is the root directory'],
      [fx().env.HOME!, 'is (or holds) a home directory'],
      [link, 'is a system directory (/etc)'],
      [`${ws}/..`, 'is (or holds) a home directory'],
      [path.join(fx().dir, 'missing'), 'cannot resolve it: ENOENT'],
    ] as const) {
      const r = await jail(['box', 'create', `bad${Math.random().toString(36).slice(2, 7)}`, '--workspace', spec]);
      expect(r.code, spec).not.toBe(0);
      expect(r.stderr).toContain(why);
    }
    fs.chownSync(ws, 0, 0);
    const rootOwned = await jail(['box', 'create', 'rootws', '--workspace', ws]);
    expect(rootOwned.stderr).toContain('is owned by root');
  });

  it('ephemeral roots lose their writes at stop, persistent ones keep them; diff lists added, changed and deleted paths', async () => {
    const { jail, state, dir } = fx();
    const tree = path.join(dir, 'mini-tree');
    miniRootfs(tree);
    fs.writeFileSync(path.join(tree, 'etc', 'suid'), '');
    fs.chmodSync(path.join(tree, 'etc', 'suid'), 0o4755);
    const imported = await jail(['image', 'import', 'mini', tree]);
    expect(imported.code, imported.stderr).toBe(0);
    // The store passes the box user through (0711), and keeps no set-id file.
    expect(fs.statSync(path.join(state, 'images')).mode & 0o777).toBe(0o711);
    expect(fs.statSync(path.join(state, 'images', 'mini', 'rootfs', 'etc', 'suid')).mode & 0o7777).toBe(0o755);
    for (const [name, persistent] of [['eph', false], ['per', true]] as const) {
      // --uid: the image's files are uid 1000's (without a workspace, root's box user is nobody).
      await jail(['box', 'create', name, '--image', 'mini', '--uid', '1000', '--gid', '1000', ...(persistent ? ['--persistent'] : [])]);
      expect((await jail(['box', 'start', name])).code).toBe(0);
      // /etc/conf.d removed and made again: overlayfs makes it opaque, hiding what was below.
      const w = await jail(['box', 'exec', name, '--', 'sh', '-c', 'cat /etc/motd; echo changed > /etc/motd; rm /etc/gone; mkdir -p /srv/new; echo x > /srv/new/file; echo t > /tmp/scratch; rm -r /etc/conf.d; mkdir -p /etc/conf.d/sub; echo n > /etc/conf.d/new']);
      expect(w.code, w.stderr).toBe(0);
      expect(w.stdout).toBe('from the image\n');
      const diff = JSON.parse((await jail(['box', 'diff', name, '--json'])).stdout);
      expect(diff).toEqual({
        added: ['/etc/conf.d/new', '/srv', '/srv/new', '/srv/new/file'],
        // As root the overlay is mounted in the box's user namespace, where overlayfs cannot
        // mark a directory opaque (trusted.* xattrs): it keeps whiteouts in it instead.
        changed: ['/etc/motd'],
        deleted: ['/etc/conf.d/a', '/etc/conf.d/b', '/etc/conf.d/sub/c', '/etc/gone'],
      });
      expect((await jail(['box', 'diff', name])).stdout).toBe(
        'D /etc/conf.d/a\nD /etc/conf.d/b\nA /etc/conf.d/new\nD /etc/conf.d/sub/c\nD /etc/gone\nC /etc/motd\nA /srv\nA /srv/new\nA /srv/new/file\n',
      );
      await jail(['box', 'stop', name]);
      await jail(['box', 'start', name]);
      const after = await jail(['box', 'exec', name, '--', 'sh', '-c', 'cat /etc/motd; ls /srv 2>&1; ls /tmp']);
      expect(after.stdout).toBe(persistent ? 'changed\nnew\n' : 'from the image\nls: cannot access \'/srv\': No such file or directory\n');
    }
    // An image a box uses stays until the box goes.
    const rmImage = await jail(['image', 'rm', 'mini']);
    expect(rmImage.code).not.toBe(0);
    expect(rmImage.stderr).toContain("image 'mini' is used by boxes eph, per");
    // The image itself was never written.
    expect(fs.readFileSync(path.join(state, 'images', 'mini', 'rootfs', 'etc', 'motd'), 'utf8')).toBe('from the image\n');
    expect(fs.existsSync(path.join(state, 'images', 'mini', 'rootfs', 'etc', 'gone'))).toBe(true);
  });

  it('readFile, writeFile and listDir work in the box\'s root, and a planted link cannot reach the host', async () => {
    const { jail, env } = fx();
    const ws = fx().workspace('files');
    const secret = path.join('/root', `box-secret-${process.pid}`);
    fs.writeFileSync(secret, 'host secret\n', { mode: 0o600 });
    try {
      await jail(['box', 'create', 'files', '--workspace', ws]);
      await jail(['box', 'start', 'files']);
      box.writeFile('files', 'note.txt', 'from the library', env);
      box.writeFile('files', '/home/user/h.txt', 'home', env);
      expect(fs.statSync(path.join(ws, 'note.txt'))).toMatchObject({ uid: 1000, gid: 1000 });
      const r = await box.exec('files', ['sh', '-c', 'cat note.txt /home/user/h.txt; ln -s ' + secret + ' link; ln -s /root dirlink; ln -s ../../../../../../' + secret + ' rel'], {}, env);
      expect(r.stdout).toBe('from the libraryhome');
      expect(box.readFile('files', '/workspace/note.txt', env).toString()).toBe('from the library');
      for (const p of ['link', 'rel', `dirlink/${path.basename(secret)}`]) {
        expect(() => box.readFile('files', p, env), p).toThrow(/ENOENT/);
      }
      // Writing through a planted link never creates or changes a host file.
      expect(() => box.writeFile('files', 'link', 'overwritten', env)).toThrow();
      expect(fs.readFileSync(secret, 'utf8')).toBe('host secret\n');
      expect(box.listDir('files', '/workspace', env).map((e) => [e.name, e.type])).toEqual([
        ['dirlink', 'symlink'],
        ['link', 'symlink'],
        ['note.txt', 'file'],
        ['rel', 'symlink'],
      ]);
    } finally {
      fs.rmSync(secret, { force: true });
    }
  });

  it('a SIGKILLed supervisor takes its box with it; the next command cleans up', async () => {
    const { jail, state } = fx();
    await jail(['box', 'create', 'kill', '--memory', '128M']);
    await jail(['box', 'start', 'kill']);
    const { supervisorPid, initPid } = runtimeOf(state, 'kill');
    const cgroups = fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8').split('\n').filter((l) => /NSJAIL/.test(l));
    expect(cgroups.length).toBeGreaterThan(0);
    process.kill(supervisorPid, 'SIGKILL');
    await waitFor(() => !fs.existsSync(`/proc/${initPid}`), 10_000, 'the init to die');
    await sleep(50);
    const ls = JSON.parse((await jail(['box', 'ls', '--json'])).stdout);
    expect(ls).toMatchObject([{ name: 'kill', state: 'broken' }]);
    expect(JSON.parse((await jail(['box', 'ls', '--json'])).stdout)).toMatchObject([{ name: 'kill', state: 'stopped' }]);
    expect(fs.existsSync(path.join(state, 'boxes', 'kill', 'run'))).toBe(false);
    // Its cgroups are gone from the host too (v1 lines: N:controller:/path).
    for (const line of cgroups) {
      const [, controllers, where] = line.split(':');
      expect(fs.existsSync(path.join('/sys/fs/cgroup', controllers.split(',')[0], where)), line).toBe(false);
    }
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(path.join(state, 'boxes', 'kill'));
    // It starts again as if nothing happened.
    expect((await jail(['box', 'start', 'kill'])).code).toBe(0);
    expect((await jail(['box', 'exec', 'kill', '--', 'true'])).code).toBe(0);
  });

  it('two commands on one box at once: one starts it, the other is told it runs', async () => {
    const { jail } = fx();
    await jail(['box', 'create', 'race']);
    const results = await Promise.all([jail(['box', 'start', 'race']), jail(['box', 'start', 'race']), jail(['box', 'start', 'race'])]);
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    for (const r of results.filter((x) => x.code !== 0)) expect(r.stderr).toContain('already running');
    expect(initsOf(fx().state)).toHaveLength(1);
  });

  it('a program outlives nothing: a killed exec client takes its program group down; idle boxes stop by themselves', async () => {
    const { jail, state } = fx();
    await jail(['box', 'create', 'idle', '--idle', '2']);
    await jail(['box', 'start', 'idle']);
    const { initPid } = runtimeOf(state, 'idle');
    const client = spawn(process.execPath, [path.join(__dirname, '../../../bin/jail'), 'box', 'exec', 'idle', '--', 'sh', '-c', 'sleep 60 & sleep 61'], { env: fx().env, stdio: 'ignore' });
    const sleeping = () => fs.readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').trim() !== '';
    await waitFor(sleeping, 10_000, 'the exec to start');
    client.kill('SIGKILL');
    await waitFor(() => !sleeping(), 5_000, 'the program group to be killed');
    // Nothing runs now: after 2 idle seconds the box ends itself.
    await waitFor(() => !fs.existsSync(`/proc/${initPid}`), 8_000, 'the idle box to stop');
    // A clean end, not a broken box: the init said so before it went.
    expect(fs.readFileSync(path.join(state, 'boxes', 'idle', 'run', 'note'), 'utf8')).toBe('idle\n');
    expect(JSON.parse((await jail(['box', 'status', 'idle', '--json'])).stdout).state).toBe('stopped');
    expect((await jail(['box', 'start', 'idle'])).code).toBe(0);
  });

  it('runs the setup script once, as the box user; a failing one stops the box and runs again next time', async () => {
    const { jail } = fx();
    const ws = fx().workspace('setup');
    await jail(['box', 'create', 'setup', '--workspace', ws, '--setup', 'id -u >> /workspace/setup.log']);
    expect((await jail(['box', 'start', 'setup'])).code).toBe(0);
    await jail(['box', 'stop', 'setup']);
    await jail(['box', 'start', 'setup']);
    expect(fs.readFileSync(path.join(ws, 'setup.log'), 'utf8')).toBe('1000\n');

    await jail(['box', 'create', 'badsetup', '--setup', 'echo broken >&2; exit 3']);
    const bad = await jail(['box', 'start', 'badsetup']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('its setup script failed with exit code 3');
    expect(bad.stderr).toContain('broken');
    expect(JSON.parse((await jail(['box', 'status', 'badsetup', '--json'])).stdout).state).toBe('stopped');
  });

  it('profiles from jail.json apply, and their errors point at file:line:col', async () => {
    const { jail } = fx();
    const ws = fx().workspace('prof');
    fs.writeFileSync(
      path.join(ws, 'jail.json'),
      JSON.stringify({ resources: { memory: '300M' }, protect: { read_only: ['.git/hooks'], hidden: ['.env'] }, profiles: { explore: { mounts: { workspace_writable: false } } } }, null, 2),
    );
    fs.mkdirSync(path.join(ws, '.git', 'hooks'), { recursive: true });
    fs.writeFileSync(path.join(ws, '.env'), 'API_KEY=secret\n');
    await jail(['box', 'create', 'code', '--workspace', ws]);
    await jail(['box', 'start', 'code']);
    const r = await jail(['box', 'exec', 'code', '--', 'sh', '-c', 'cat .env; echo x > .git/hooks/pre-commit; echo rc=$?; echo ok > file; echo rc=$?']);
    expect(r.stdout).toBe('rc=2\nrc=0\n');
    expect(r.stderr).toContain('Read-only file system');
    expect(fs.readFileSync(path.join(ws, '.env'), 'utf8')).toBe('API_KEY=secret\n');
    expect(JSON.parse((await jail(['box', 'status', 'code', '--json'])).stdout).workspace).toBe(ws);

    await jail(['box', 'create', 'explore', '--workspace', ws, '--profile', 'explore']);
    await jail(['box', 'start', 'explore']);
    expect((await jail(['box', 'exec', 'explore', '--', 'sh', '-c', 'echo x > f2 2>/dev/null; echo rc=$?'])).stdout).toBe('rc=2\n');

    fs.writeFileSync(path.join(ws, 'jail.json'), '{\n  "resources": { "memroy": "1G" }\n}\n');
    const bad = await jail(['box', 'create', 'bad', '--workspace', ws]);
    expect(bad.stderr).toContain(`${path.join(ws, 'jail.json')}:2:18`);
    expect(bad.stderr).toContain("unknown field 'memroy' in resources");
    expect(bad.stderr).toContain('accepted: memory, cpus, pids');
    fs.writeFileSync(path.join(ws, 'jail.json'), '{ "profiles": { "code": {} } }');
    const unknown = await jail(['box', 'create', 'bad', '--workspace', ws, '--profile', 'nope']);
    expect(unknown.stderr).toContain("no profile 'nope' in ");
    expect(unknown.stderr).toContain('known profiles: code');
  });

  it('persist_caches: boxes of one profile share their caches; logs show the supervisor\'s log', async () => {
    const { jail, state } = fx();
    const ws = fx().workspace('caches');
    fs.writeFileSync(path.join(ws, 'jail.json'), JSON.stringify({ profiles: { py: { mounts: { persist_caches: ['pip'] } } } }));
    for (const name of ['c1', 'c2']) {
      expect((await jail(['box', 'create', name, '--workspace', ws, '--profile', 'py'])).code).toBe(0);
      expect((await jail(['box', 'start', name])).code).toBe(0);
    }
    expect((await jail(['box', 'exec', 'c1', '--', 'sh', '-c', 'echo wheel > ~/.cache/pip/w'])).code).toBe(0);
    expect((await jail(['box', 'exec', 'c2', '--', 'cat', '/home/user/.cache/pip/w'])).stdout).toBe('wheel\n');
    await jail(['box', 'rm', '--force', 'c1']);
    await jail(['box', 'rm', '--force', 'c2']);
    // The cache outlives its boxes, the user's own.
    expect(fs.statSync(path.join(state, 'caches', 'py', 'pip', 'w'))).toMatchObject({ uid: 1000 });
    await jail(['box', 'create', 'c3', '--workspace', ws, '--profile', 'py']);
    await jail(['box', 'start', 'c3']);
    expect((await jail(['box', 'exec', 'c3', '--', 'cat', '/home/user/.cache/pip/w'])).stdout).toBe('wheel\n');
    const logs = await jail(['box', 'logs', 'c3']);
    expect(logs.stdout).toMatch(/box c3: starting \(root: the host's system directories, ephemeral; workspace: .*; network: none; supervisor: jail_exec\), pid \d+/);
  });

  it('the quick start: up drops into a shell with the project mounted; exec after exit; rm leaves nothing', async () => {
    const { jail, state } = fx();
    const ws = fx().workspace('dev');
    fs.writeFileSync(path.join(ws, 'README'), 'project\n');
    const up = await jail(['box', 'up', 'dev', '--workspace', '.'], { cwd: ws, input: 'cat README; pwd; exit 0\n' });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toBe('project\n/workspace\n');
    expect((await jail(['box', 'exec', 'dev', '--', 'ls', '/workspace'])).stdout).toBe('README\n');
    // up again: the box runs, so it only enters it.
    expect((await jail(['box', 'up', 'dev', '--', 'true'])).code).toBe(0);
    expect((await jail(['box', 'rm', '--force', 'dev'])).code).toBe(0);
    expect(fs.readdirSync(path.join(state, 'boxes'))).toEqual([]);
    expect(initsOf(state)).toEqual([]);
    expect(fs.readdirSync(ws)).toEqual(['README']);
  });

  it('a shell on a terminal gets a terminal of the box\'s own: named, the box user\'s, none of the host\'s visible', async () => {
    const { jail, env } = fx();
    expect((await jail(['box', 'create', 'term'])).code).toBe(0);
    expect((await jail(['box', 'start', 'term'])).code).toBe(0);
    // A host terminal held open meanwhile (script's own is another): the box sees neither.
    const host = loadAddon().openPty();
    try {
      expect(fs.readdirSync('/dev/pts').length).toBeGreaterThan(1);
      const r = await jailOnTerminal(['box', 'exec', 'term', '--', 'sh', '-c', 'tty; test -t 0 && test -t 1 && echo both-terminals; stat -c %u "$(tty)"; ls -1 /dev/pts; exit 4'], { env });
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stdout).toBe('/dev/pts/0\nboth-terminals\n1000\n0\nptmx\n');
    } finally {
      for (const fd of host) fs.closeSync(fd);
    }
  });

  it('a SIGKILLed init breaks its box, and a CLI killed mid-command leaves no lock behind', async () => {
    const { jail, state } = fx();
    await jail(['box', 'create', 'victim']);
    await jail(['box', 'start', 'victim']);
    const { initPid } = runtimeOf(state, 'victim');
    process.kill(initPid, 'SIGKILL');
    await waitFor(() => !fs.existsSync(`/proc/${initPid}`), 5000, 'the init to die');
    await waitFor(() => initsOf(state).length === 0, 5000, 'the box to end');
    expect(JSON.parse((await jail(['box', 'status', 'victim', '--json'])).stdout).state).toBe('broken');
    expect((await jail(['box', 'stop', 'victim'])).stdout).toBe('stopped box victim\n');
    expect(JSON.parse((await jail(['box', 'status', 'victim', '--json'])).stdout).state).toBe('stopped');

    // A start killed at once (it may hold the box's lock): the next command takes over.
    for (const delay of [0, 30, 80]) {
      const killed = jail(['box', 'start', 'victim'], { onSpawn: (child) => setTimeout(() => child.kill('SIGKILL'), delay) });
      await killed;
      const next = await jail(['box', 'stop', 'victim']);
      expect(next.code, next.stderr).toBe(0);
      expect(fs.existsSync(path.join(state, 'boxes', 'victim', 'lock'))).toBe(false);
      expect(initsOf(state)).toEqual([]);
    }
    expect((await jail(['box', 'start', 'victim'])).code).toBe(0);
    expect((await jail(['box', 'exec', 'victim', '--', 'true'])).code).toBe(0);
  });

  it('root never follows a link the box user planted in a persistent layer', async () => {
    const { jail, state, dir } = fx();
    await jail(['box', 'create', 'planted', '--persistent', '--uid', '1000']);
    await jail(['box', 'start', 'planted']);
    await jail(['box', 'stop', 'planted']);
    // What the box's host user (uid 1000, who owns the layer) could do between two starts.
    const victim = path.join(dir, 'victim');
    fs.mkdirSync(victim, { mode: 0o755 });
    const home = path.join(state, 'boxes', 'planted', 'upper', 'home');
    fs.rmSync(home, { recursive: true });
    fs.symlinkSync(victim, home);
    // The box's /home is now a dangling link (its own doing): it may not start; root did nothing there.
    const r = await jail(['box', 'start', 'planted']);
    if (r.code !== 0) expect(r.stderr).toMatch(/could not start: .*home\/user/);
    expect(fs.readdirSync(victim)).toEqual([]);
    expect(fs.statSync(victim).uid).toBe(0);
  });

  it('a state directory the box user cannot pass through is named, with the fix', async () => {
    const { jail, dir } = fx();
    const closed = fs.mkdtempSync(path.join(dir, 'closed-'));
    fs.chmodSync(closed, 0o700);
    const env = { JAIL_STATE_DIR: closed };
    expect((await jail(['box', 'create', 'shut'], { env })).code).toBe(0);
    const r = await jail(['box', 'start', 'shut'], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`box 'shut': its user (host uid 65534) cannot pass through ${closed} (mode 700), so its root cannot be mounted`);
    expect(r.stderr).toContain(`chmod o+x ${closed}`);
    expect((await jail(['box', 'rm', 'shut'], { env })).code).toBe(0);
  });

  it('a state directory on overlayfs (a container\'s root) is refused with the reason', async () => {
    const { jail, dir } = fx();
    const base = path.join(dir, 'ovl');
    for (const d of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(base, d), { recursive: true, mode: 0o755 });
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base}/lower,upperdir=${base}/upper,workdir=${base}/work`, `${base}/merged`]);
    try {
      const env = { JAIL_STATE_DIR: path.join(base, 'merged', 'state') };
      expect((await jail(['box', 'create', 'ovl'], { env })).code).toBe(0);
      const r = await jail(['box', 'start', 'ovl'], { env });
      expect(r.stderr).toContain(`its state directory ${env.JAIL_STATE_DIR}/boxes/ovl is on overlayfs, which cannot hold an overlay's upper layer`);
      expect(r.stderr).toContain('set JAIL_STATE_DIR to a directory on ext4, xfs, btrfs or tmpfs');
      expect((await jail(['box', 'rm', 'ovl'], { env })).code).toBe(0);
    } finally {
      execFileSync('umount', [`${base}/merged`]);
    }
  });
});
