/**
 * The CI form of bench/soak.mjs (which runs 1,000 jails with 50 supervisor kills): a few hundred
 * jails of every kind, a share under a supervisor SIGKILLed at a random moment, 200 in flight at
 * once; then nothing of them may be left: processes, cgroups in any hierarchy, mounts, scratch
 * directory content, fds. It runs the built CLI and library (npm run build), as users do.
 */
import { expect, it } from 'vitest';
import { soak } from '../../../bench/soak.mjs';
import { describeAsRoot } from '../../helpers/env';

describeAsRoot('soak', () => {
  it('300 jails of every kind, 20 supervisors SIGKILLed, 200 in flight at once: right outcomes, nothing left', { timeout: 180_000 }, async () => {
    // Bounded in time too: a loaded machine runs fewer jails rather than time out.
    const result = await soak({ jails: 300, kills: 20, seed: 12, inFlight: 200, timeMs: 90_000 });
    console.log(JSON.stringify({ ms: result.ms, counts: result.counts, inFlight: result.inFlight }));
    expect(result.wrong).toEqual([]);
    expect(result.leaks).toEqual([]);
    expect(result.inFlight.failures).toBe(0);
    expect(Object.values(result.counts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(100);
  });
});
