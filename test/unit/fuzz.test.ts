/**
 * A bounded slice of bench/fuzz.mjs on the sources: seeded mutations of config text, JSON, flag
 * lists and kafel policies; no crash, no input over a second, no error without a message or
 * (for files) a file:line:col. `node bench/fuzz.mjs` runs the full 100,000.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Command, CommanderError } from 'commander';
import { fuzz } from '../../bench/fuzz-engine.mjs';
import { JailError } from '../../src/errors';
import { parseConfigJson, parseConfigText } from '../../src/config/load';
import { configFromFlags, defineJailFlags, jailFlagNames } from '../../src/config/flags';
import { compilePolicy } from '../../src/policy';
import { ID_FILES } from '../helpers/config';

it('5,000 seeded mutations of configs, flags and policies: no crash, hang or unhelpful error', { timeout: 60_000 }, () => {
  const api = { JailError, parseConfigText, parseConfigJson, compilePolicy, jailFlagNames, defineJailFlags, configFromFlags, Command, CommanderError };
  // Bounded in count and in time (a loaded CI machine stops early rather than time out).
  const result = fuzz(api, { seed: 20260101, count: 5000, timeMs: 30_000, repo: join(__dirname, '../..'), idFiles: ID_FILES });
  expect(result.findings).toEqual([]);
  expect(result.runs).toBeGreaterThanOrEqual(1000);
  for (const s of Object.values(result.byKind)) expect(s.accepted).toBeGreaterThan(0);
});
