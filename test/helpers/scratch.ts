/**
 * Temporary directories of one test file. Call at a file's top level or in a beforeAll: the
 * directory is removed once the file's tests are done, whether they passed or not (a test run
 * must not leave the machine's /tmp fuller than it found it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
