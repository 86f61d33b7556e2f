/**
 * What to execute: the binary's path (looked up on the caller's PATH when given as a bare name,
 * which nsjail does not do), argv, and the environment the program gets.
 */
import * as path from 'node:path';
import { JailError } from '../errors';
import type { Config } from '../config/types';
import type { HostFacts } from './host';

export interface ExecTarget {
  path: string;
  argv: string[];
  envp: string[];
  warnings: string[];
}

/** PATH search on the host; a name with a slash is used as given (resolved in the jail). */
export function lookupCommand(name: string, env: NodeJS.ProcessEnv, host: HostFacts): string {
  if (name.includes('/')) return name;
  const dirs = (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.posix.join(dir, name);
    if (host.isExecutable(candidate)) return candidate;
  }
  throw new JailError('not-found', `command not found: '${name}' is not an executable file in any directory of PATH=${dirs.join(':')}`, {
    hint: 'give an absolute path, or fix PATH',
  });
}

/** keep_env copies the caller's environment; each envar "K=V" sets, a bare "K" copies the caller's K. */
export function buildEnvironment(config: Config, env: NodeJS.ProcessEnv): { envp: string[]; warnings: string[] } {
  const vars = new Map<string, string>();
  const warnings: string[] = [];
  if (config.keepEnv) {
    for (const [k, v] of Object.entries(env)) if (v !== undefined) vars.set(k, v);
  }
  for (const item of config.envar) {
    const eq = item.indexOf('=');
    if (eq >= 0) {
      vars.set(item.slice(0, eq), item.slice(eq + 1));
    } else if (env[item] !== undefined) {
      vars.set(item, env[item] as string);
    } else {
      warnings.push(`environment variable ${item} is not set in the caller's environment; not passed`);
    }
  }
  return { envp: [...vars].map(([k, v]) => `${k}=${v}`), warnings };
}
