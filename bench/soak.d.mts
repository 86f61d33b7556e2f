// Types of bench/soak.mjs for the TypeScript test that runs it.
export interface SoakResult {
  seed: number;
  root: boolean;
  counts: Record<string, number>;
  wrong: string[];
  timings: Record<string, { n: number; median: number; p90: number; max: number }>;
  inFlight: { jails: number; failures: number; ms: number };
  leaks: string[];
  ms: number;
}
export function soak(options?: { jails?: number; kills?: number; seed?: number; concurrency?: number; inFlight?: number; timeMs?: number }): Promise<SoakResult>;
