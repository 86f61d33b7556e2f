/**
 * Throw-away unprivileged users for the integration tests that run `jail` rootless (or play
 * another user attacking a rootless jail). Created with `useradd`, removed with everything they
 * left: their processes (killed one pid at a time), their scratch directory /tmp/jail-UID, the
 * user and its group.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { hasTool, hostProcesses } from './helpers';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** Why users cannot be created here, or null. */
export function testUserReason(): string | null {
  if (process.geteuid?.() !== 0) return 'needs root (to create test users)';
  for (const tool of ['useradd', 'usermod', 'userdel', 'setpriv']) if (!hasTool(tool)) return `${tool} is not installed`;
  return null;
}

const idOf = (name: string, flag: '-u' | '-g') => Number(execFileSync('id', [flag, name], { encoding: 'utf8', timeout: 10_000 }).trim());

/** Removes `name` and what it left behind; nothing happens when there is no such user. */
export function removeTestUser(name: string): void {
  let uid: number;
  try {
    uid = idOf(name, '-u');
  } catch {
    return; // no such user
  }
  for (const p of hostProcesses()) {
    try {
      const real = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1]);
      if (real === uid) process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  fs.rmSync(`/tmp/jail-${uid}`, { recursive: true, force: true });
  execFileSync('userdel', [name], { timeout: 30_000, stdio: 'ignore' });
}

/** A fresh user `name` (a leftover of an earlier run is removed first), without a home directory. */
export function createTestUser(name: string): TestUser {
  removeTestUser(name);
  execFileSync('useradd', ['-M', '-U', '-s', '/usr/sbin/nologin', name], { timeout: 30_000 });
  return { name, uid: idOf(name, '-u'), gid: idOf(name, '-g') };
}

/** argv prefix that runs a command as `user` (no supplementary groups). */
export function asUserArgv(user: TestUser): string[] {
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
}
