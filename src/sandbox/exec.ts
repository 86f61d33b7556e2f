/**
 * What to execute: the binary's path, argv, and the environment the program gets.
 *
 * A bare command name (`python3`) is looked up before launch, which nsjail does not do. The
 * lookup happens in the jail's view of the filesystem: along the jail's own PATH when the config
 * sets one (envar "PATH=..."), else along the caller's PATH, keeping only files that the jail's
 * bind mounts make visible inside it, so `-- python3` finds /usr/bin/python3 in a jail that
 * mounts /usr even when the caller's PATH starts with ~/.pyenv/shims.
 */
import * as path from 'node:path';
import { JailError } from '../errors';
import type { Config } from '../config/types';
import type { HostFacts } from './host';
import type { Bind } from './mounts';

export interface ExecTarget {
  path: string;
  argv: string[];
  envp: string[];
  warnings: string[];
}

function within(p: string, dir: string): string | null {
  if (dir === '/') return p;
  if (p === dir) return '';
  return p.startsWith(dir + '/') ? p.slice(dir.length) : null;
}

/** Host path of a jail path through the binds (the last covering bind wins), or null. */
export function hostPathOf(jailPath: string, binds: Bind[]): string | null {
  for (let i = binds.length - 1; i >= 0; i--) {
    const rest = within(jailPath, binds[i].jailPath);
    if (rest !== null) return path.posix.join(binds[i].hostPath, rest || '.');
  }
  return null;
}

/** Jail path of a host path through the binds, or null when the jail cannot see it. */
export function jailPathOf(hostPath: string, binds: Bind[]): string | null {
  for (let i = binds.length - 1; i >= 0; i--) {
    const rest = within(hostPath, binds[i].hostPath);
    if (rest === null) continue;
    const jailPath = path.posix.join(binds[i].jailPath, rest || '.');
    // A later bind over that jail path hides this one.
    if (hostPathOf(jailPath, binds) === hostPath) return jailPath;
  }
  return null;
}

/**
 * Resolves a bare command name; a name with a slash is used as given (it is resolved inside the
 * jail by execve).
 */
export function lookupCommand(name: string, envp: string[], env: NodeJS.ProcessEnv, binds: Bind[], host: HostFacts): string {
  if (name.includes('/')) return name;
  const jailPathVar = envp.find((e) => e.startsWith('PATH='))?.slice(5);
  if (jailPathVar !== undefined) {
    for (const dir of jailPathVar.split(':').filter((d) => d.startsWith('/'))) {
      const candidate = path.posix.join(dir, name);
      const onHost = hostPathOf(candidate, binds);
      if (onHost !== null && host.isExecutable(onHost)) return candidate;
    }
  }
  const dirs = (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean);
  let hidden: string | undefined;
  for (const dir of dirs) {
    const candidate = path.posix.join(path.posix.resolve(dir), name);
    if (!host.isExecutable(candidate)) continue;
    const inJail = jailPathOf(candidate, binds);
    if (inJail !== null) return inJail;
    hidden ??= candidate;
  }
  if (hidden !== undefined) {
    throw new JailError('not-found', `command '${name}' was found at ${hidden}, but the jail cannot see that path`, {
      hint: 'mount its directory into the jail (e.g. -R ' + path.posix.dirname(hidden) + '), or give a path that exists inside the jail',
    });
  }
  const searched = jailPathVar !== undefined ? `the jail's PATH=${jailPathVar} or your PATH=${dirs.join(':')}` : `PATH=${dirs.join(':')}`;
  throw new JailError('not-found', `command not found: '${name}' is not an executable file in ${searched}`, {
    hint: 'give an absolute path, or fix PATH',
  });
}

/**
 * keep_env copies the caller's environment; each envar "K=V" sets, a bare "K" copies the caller's
 * K. A bare K the caller does not have is skipped and listed in `unset`: configs name optional
 * pass-throughs (API tokens, cache paths) that are often absent, so it is not worth a warning.
 */
export function buildEnvironment(config: Config, env: NodeJS.ProcessEnv): { envp: string[]; unset: string[] } {
  const vars = new Map<string, string>();
  const unset: string[] = [];
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
      unset.push(item);
    }
  }
  return { envp: [...vars].map(([k, v]) => `${k}=${v}`), unset };
}
