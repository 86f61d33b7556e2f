/**
 * Makes the product's lazy `require('./x')` calls work under vitest.
 *
 * Some src/ modules load others on first use with a plain CommonJS require (main.ts loads the
 * subcommand it needs, run.ts and violation.ts load the policy compiler only when a policy is
 * set) to keep `jail -- /bin/true` fast. In compiled dist/ that is fine; under vitest the source
 * is TypeScript that vitest transforms, and Node's require cannot load a `.ts` file, so the call
 * fails with "Cannot find module './run-command'".
 *
 * This hook answers such a require with the very module instance vitest has loaded (imported
 * below), so classes like JailError stay one class. A lazy require of a src/ module not listed
 * here fails with a message saying to add it.
 */
import Module from 'node:module';
import * as path from 'node:path';
import * as configCommand from '../../src/cli/config-command';
import * as execveCli from '../../src/cli/execve-cli';
import * as policyCommand from '../../src/cli/policy-command';
import * as runCommand from '../../src/cli/run-command';
import * as superviseCli from '../../src/cli/supervise-cli';
import * as policy from '../../src/policy';

const SRC = path.resolve(__dirname, '..', '..', 'src');

const MODULES: Record<string, unknown> = {
  'cli/config-command': configCommand,
  'cli/execve-cli': execveCli,
  'cli/policy-command': policyCommand,
  'cli/run-command': runCommand,
  'cli/supervise-cli': superviseCli,
  policy,
};

type Load = (request: string, parent: { filename?: string | null } | null | undefined, isMain: boolean) => unknown;
const M = Module as unknown as { _load: Load; __jailLazyRequire?: boolean };

if (!M.__jailLazyRequire) {
  M.__jailLazyRequire = true;
  const original = M._load;
  M._load = function (this: unknown, request, parent, isMain) {
    const from = parent?.filename;
    if (request.startsWith('.') && from && from.startsWith(SRC + path.sep) && from.endsWith('.ts')) {
      const rel = path.relative(SRC, path.resolve(path.dirname(from), request)).split(path.sep).join('/').replace(/\/index$/, '');
      if (rel in MODULES) return MODULES[rel];
      // Files outside src/ (package.json) are not TypeScript: Node loads them as usual.
      if (rel.startsWith('../')) return original.call(this, request, parent, isMain);
      throw new Error(`lazy require('${request}') from ${path.relative(SRC, from)}: add src/${rel} to test/helpers/lazy-require.ts`);
    }
    return original.call(this, request, parent, isMain);
  } as Load;
}

export {};
