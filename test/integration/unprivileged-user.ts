/**
 * An unprivileged user created for a test file, who runs `jail` (the CLI, through setpriv): the
 * fixture of every rootless integration test. Created in beforeAll (with a subordinate id range
 * for -U/-G), removed in afterAll with its processes, its scratch directory and its /etc/subuid
 * entries. If the repository is not readable by that user (e.g. a checkout under /root), the
 * CLI's runtime files and the probe are copied to a temp dir it can read.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { assertBuilt, cli, killSpawned, probePath, REPO, SYSTEM_PATH, tempDir, type CliOptions, type CliResult } from './core/helpers';
import { createTestUser, removeTestUser, testUserReason, type TestUser } from './core/test-users';

export interface RootlessUser extends TestUser {
  subuid: [number, number] | null;
  subgid: [number, number] | null;
}

export interface UnprivilegedFixture {
  user: RootlessUser;
  /** A directory the user can read, removed with the fixture. */
  dir: string;
  /** Where the user runs bin/jail from (the repo, or a copy of its runtime files). */
  jailRoot: string;
  /** The probe as the user can reach it. */
  probe: string;
  /** Runs the CLI as the user (cwd: the fixture's directory; a minimal environment). */
  jail(args: string[], opts?: CliOptions): Promise<CliResult>;
}

/** Why rootless tests cannot run here, or null. */
export const rootlessReason = testUserReason;

function subRange(file: string, name: string): [number, number] | null {
  try {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(name + ':'));
    if (!line) return null;
    const [, start, count] = line.split(':');
    return [Number(start), Number(count)];
  } catch {
    return null;
  }
}

/** Can the user read `file` (and traverse every directory above it)? */
function readableBy(user: RootlessUser, file: string): boolean {
  try {
    execFileSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'test', '-r', file], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Sets the user up for the enclosing describe block; the returned getter is valid in tests. */
export function unprivilegedUser(name: string): () => UnprivilegedFixture {
  let fixture: UnprivilegedFixture | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;

  beforeAll(() => {
    assertBuilt();
    const { uid, gid } = createTestUser(name);
    if (subRange('/etc/subuid', name) === null || subRange('/etc/subgid', name) === null) {
      // useradd adds subordinate ranges only when login.defs asks for them; give the user one
      // (each fixture name its own, so two test users never share host ids).
      const base = 1_500_000_000 + (parseInt(name.replace(/\W/g, ''), 36) % 1000) * 65536;
      const range = `${base}-${base + 65535}`;
      execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, name], { timeout: 30_000 });
    }
    const user = { name, uid, gid, subuid: subRange('/etc/subuid', name), subgid: subRange('/etc/subgid', name) };
    tmp = tempDir(`jail-it-${name}-`);

    let jailRoot = REPO;
    if (!readableBy(user, path.join(REPO, 'dist', 'jail-cli.js')) && !readableBy(user, path.join(REPO, 'dist', 'cli', 'main.js'))) {
      // Copy what `node bin/jail` needs at run time.
      jailRoot = path.join(tmp.dir, 'jail');
      for (const part of ['bin', 'dist', 'policies', 'examples', 'package.json']) {
        fs.cpSync(path.join(REPO, part), path.join(jailRoot, part), { recursive: true });
      }
      fs.mkdirSync(path.join(jailRoot, 'build', 'Release'), { recursive: true });
      for (const f of fs.readdirSync(path.join(REPO, 'build', 'Release'))) {
        const src = path.join(REPO, 'build', 'Release', f);
        if (fs.statSync(src).isFile()) fs.copyFileSync(src, path.join(jailRoot, 'build', 'Release', f));
      }
      // The bundled CLI needs no node_modules; the unbundled fallback does.
      if (!fs.existsSync(path.join(REPO, 'dist', 'jail-cli.js'))) {
        fs.cpSync(path.join(REPO, 'node_modules'), path.join(jailRoot, 'node_modules'), { recursive: true, dereference: true });
      }
      execFileSync('chmod', ['-R', 'a+rX', jailRoot]);
    }
    let probe = probePath();
    if (!readableBy(user, probe)) {
      const dir = path.join(tmp.dir, 'probe');
      fs.mkdirSync(dir, { mode: 0o755 });
      fs.copyFileSync(probePath(), path.join(dir, 'probe'));
      fs.chmodSync(path.join(dir, 'probe'), 0o755);
      probe = path.join(dir, 'probe');
    }
    const dir = tmp.dir;
    fixture = {
      user,
      dir,
      jailRoot,
      probe,
      jail: (args, opts = {}) =>
        cli(args, { ...opts, asUser: { uid, gid }, cwd: opts.cwd ?? dir, env: opts.env ?? { PATH: SYSTEM_PATH, HOME: '/' }, jailBin: path.join(jailRoot, 'bin', 'jail') }),
    };
  });

  afterEach(() => killSpawned());

  afterAll(() => {
    killSpawned();
    removeTestUser(name);
    tmp?.remove();
    // The user, its group and its subordinate id ranges are gone.
    expect(fs.readFileSync('/etc/passwd', 'utf8')).not.toContain(`${name}:`);
    expect(subRange('/etc/subuid', name)).toBeNull();
  });

  return () => {
    if (!fixture) throw new Error(`the unprivileged user ${name} was not set up (beforeAll failed?)`);
    return fixture;
  };
}
