/** Builds the C helpers of the native policy tests and writes filters in the kernel's format. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Filter } from '../../../src/policy';
import { scratchDir } from '../../helpers/scratch';

/** Call at a test file's top level: the helpers' directory goes when the file's tests are done. */
export function buildHelpers(): { dir: string; replay: string; probe: string } {
  const dir = scratchDir('seccomp-native-');
  const replay = join(dir, 'seccomp-replay');
  const probe = join(dir, 'probe');
  execFileSync('cc', ['-O2', '-Wall', '-pthread', '-o', replay, join(__dirname, '..', 'seccomp-replay.c')]);
  execFileSync('cc', ['-O2', '-Wall', '-static', '-o', probe, join(__dirname, 'probe.c')]);
  return { dir, replay, probe };
}

/** struct sock_filter[] as the kernel reads it (little-endian host). */
export function writeFilter(path: string, filter: Filter): string {
  const b = Buffer.alloc(8 * filter.insns.length);
  filter.insns.forEach((i, n) => {
    b.writeUInt16LE(i.code, 8 * n);
    b.writeUInt8(i.jt, 8 * n + 2);
    b.writeUInt8(i.jf, 8 * n + 3);
    b.writeUInt32LE(i.k, 8 * n + 4);
  });
  writeFileSync(path, b);
  return path;
}
