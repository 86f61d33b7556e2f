/**
 * Loads the C++ addon. The only file that does (docs/architecture.md §2); everything else imports
 * `loadAddon()` so a missing or mismatched build is reported once, as an environment error.
 */
import * as path from 'node:path';
import { JailError } from '../errors';
import { PLAN_VERSION } from '../sandbox/plan';
import type { NativeAddon } from './types';

/** The ABI this TypeScript was written against (native/addon.cc kAbiVersion). */
const ABI_VERSION = 10;

let cached: NativeAddon | undefined;
let cachedDir: string | undefined;

export function loadAddon(): NativeAddon {
  if (cached) return cached;
  let addon: NativeAddon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bindings = require('bindings') as ((opts: { bindings: string; module_root: string }) => unknown) & { getRoot(file: string): string };
    // One lookup, from our own package root: without module_root, bindings finds the root by
    // capturing a stack trace, and a second call for the path would search again (1 ms of every
    // start, measured with --cpu-prof). bindings records where it found the file in `.path`.
    const found = bindings({ bindings: 'jail_native', module_root: bindings.getRoot(__filename) }) as NativeAddon & { path: string };
    addon = found;
    cachedDir = path.dirname(found.path);
  } catch (e) {
    throw new JailError('environment', `cannot load the native addon jail_native.node: ${(e as Error).message}`, {
      hint: 'build it with `npm run build:native` (needs g++, make and python3)',
      cause: e,
    });
  }
  if (addon.abiVersion !== ABI_VERSION || addon.planVersion !== PLAN_VERSION) {
    throw new JailError(
      'environment',
      `the native addon is ABI ${addon.abiVersion} / plan ${addon.planVersion}, this code needs ABI ${ABI_VERSION} / plan ${PLAN_VERSION}`,
      { hint: 'rebuild it with `npm run build:native`' },
    );
  }
  cached = addon;
  return addon;
}

/** A program built next to the addon (binding.gyp): the -Me launcher, or the boxes' init. */
export function builtProgram(name: 'jail_exec' | 'jail_box_init'): string {
  loadAddon();
  return path.join(cachedDir!, name);
}
