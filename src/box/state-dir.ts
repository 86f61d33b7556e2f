/**
 * Where boxes and images keep their state: the caller's own directories, never a shared one, so
 * that no daemon and no root is needed. Root: /var/lib/jail. Others: $XDG_STATE_HOME/jail
 * (~/.local/state/jail). JAIL_STATE_DIR overrides both (tests, or a second store).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { JailError } from '../errors';

export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.JAIL_STATE_DIR || (process.getuid?.() === 0 ? '/var/lib/jail' : path.join(env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state'), 'jail'));
  if (!path.isAbsolute(chosen)) {
    throw new JailError('usage', `the state directory '${chosen}' is not an absolute path`, { hint: 'set JAIL_STATE_DIR or XDG_STATE_HOME to an absolute path' });
  }
  return chosen;
}

/** Names of boxes and images: one path component, readable in `ls`, safe in a path and a cgroup name. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export function checkName(kind: 'box' | 'image', name: string): string {
  if (!NAME_PATTERN.test(name) || name.includes('..')) {
    throw new JailError('usage', `'${name}' is not a valid ${kind} name`, { hint: `use 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit` });
  }
  return name;
}
