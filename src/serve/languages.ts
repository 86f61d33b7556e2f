/**
 * The languages `POST /v1/run` takes as `code` + `language`: the server writes the code to a file
 * in the run's directory (see files.ts) and runs the interpreter on it. A file rather than `-c`
 * keeps argv short and the code out of `ps`, and works the same for every interpreter.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Language {
  /** The interpreter, looked up on the server's PATH as any command is. */
  interpreter: string;
  /** The file the code is written to, in the run's directory. */
  file: string;
}

export const LANGUAGES: Readonly<Record<string, Language>> = {
  python: { interpreter: 'python3', file: 'main.py' },
  sh: { interpreter: '/bin/sh', file: 'main.sh' },
  node: { interpreter: 'node', file: 'main.js' },
};

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  const dirs = command.includes('/') ? [''] : (env.PATH ?? '').split(':').filter(Boolean);
  return dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The languages whose interpreter this server can find (node only where it is installed, say). */
export function availableLanguages(env: NodeJS.ProcessEnv): Map<string, Language> {
  return new Map(Object.entries(LANGUAGES).filter(([, l]) => onPath(l.interpreter, env)));
}

