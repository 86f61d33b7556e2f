/**
 * The workspace directory a box gets at /workspace, checked at create: it is resolved (links
 * followed, '..' gone) and must be a directory the box may be given whole. Not `/`, not a home
 * directory itself, not a system directory or one inside it, not jail's own state: binding one
 * of those would hand the box the host's files or credentials.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JailError } from '../errors';
import { stateRoot } from './state-dir';

const SYSTEM_DIRS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin', '/sys', '/usr', '/var/lib', '/var/run', '/var/log', '/root'];

function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

export function resolveWorkspace(spec: string, cwd: string, env: NodeJS.ProcessEnv = process.env): { path: string; readOnly: boolean } {
  let text = spec;
  let readOnly = false;
  const m = /^(.*):(ro|rw)$/.exec(spec);
  if (m) {
    text = m[1];
    readOnly = m[2] === 'ro';
  }
  const refuse = (why: string, hint = 'give a project directory, e.g. --workspace ~/src/myproject'): never => {
    throw new JailError('usage', `--workspace '${spec}': ${why}`, { hint });
  };
  if (text === '') refuse('no directory given');
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(cwd, text));
  } catch (e) {
    return refuse(`cannot resolve it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'create the directory first');
  }
  if (!fs.statSync(real).isDirectory()) refuse(`${real} is not a directory`);
  if (real === '/') refuse('it is the root directory: the box would see the whole host');
  const homes = new Set([env.HOME, os.homedir()].filter((h): h is string => !!h).map((h) => path.resolve(h)));
  if ([...homes].some((h) => real === h || within(h, real))) refuse(`${real} is (or holds) a home directory, with its credentials (~/.ssh, ~/.aws, ...)`);
  const system = SYSTEM_DIRS.find((d) => within(real, d));
  if (system !== undefined) refuse(`${real} is a system directory (${system})`);
  const state = stateRoot(env);
  if (within(real, state) || within(state, real)) refuse(`${real} holds jail's own state (${state})`);
  return { path: real, readOnly };
}
