/**
 * What the machine running the tests can do, and the rule for tests it cannot run: they skip
 * with the reason as their name — except on CI, where a skip is a failure (CI runs as root on a
 * machine that can run every test, so a skip there means something is broken).
 */
import { describe, it } from 'vitest';

export const isRoot = process.geteuid?.() === 0;
export const onCI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * Runs `fn` (a describe body) when `reason` is null; otherwise registers one skipped test named
 * after the reason, or — on CI — one failing test that says why.
 */
export function describeIf(title: string, reason: string | null, fn: () => void): void {
  if (reason === null) {
    describe(title, fn);
    return;
  }
  if (onCI) {
    describe(title, () => {
      it(`cannot run here: ${reason}`, () => {
        throw new Error(`${title}: ${reason} (CI must be able to run every test)`);
      });
    });
  } else {
    describe.skip(`${title} — skipped: ${reason}`, fn);
  }
}

/** describe() for tests that need root. */
export function describeAsRoot(title: string, fn: () => void): void {
  describeIf(title, isRoot ? null : 'needs root', fn);
}
