/**
 * The installed package's root directory (where package.json, bin/ and policies/ are). Found by
 * walking up from this file, because the CLI runs it from one bundled file (dist/jail-cli.js) and
 * the library from tsc's output (dist/...): the two sit at different depths.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

export function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'bin', 'jail'))) return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`jail: no package root above ${__dirname}`);
  }
}
