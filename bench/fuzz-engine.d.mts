// Types of bench/fuzz-engine.mjs for the TypeScript tests that import it.
export interface Rng {
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
}
export function rng(seed: number): Rng;
export const CONFIG_TOKENS: readonly string[];
export interface SeedFile {
  name: string;
  text: string;
}
export function corpus(repo: string): { text: SeedFile[]; json: SeedFile[]; policy: SeedFile[] };
export function mutate(text: string, r: Rng, tokens?: readonly string[]): string;

export interface FuzzApi {
  JailError: new (...args: never[]) => Error;
  parseConfigText: (...args: never[]) => unknown;
  parseConfigJson: (...args: never[]) => unknown;
  compilePolicy: (...args: never[]) => unknown;
  jailFlagNames: () => string[];
  defineJailFlags: (...args: never[]) => unknown;
  configFromFlags: (...args: never[]) => unknown;
  Command: new (...args: never[]) => unknown;
  CommanderError: new (...args: never[]) => Error;
}
export interface FuzzResult {
  seed: number;
  runs: number;
  ms: number;
  byKind: Record<string, { runs: number; accepted: number; refused: number; slowestMs: number }>;
  crashes: number;
  hangs: number;
  unhelpful: number;
  findings: Array<{ run: number; kind: string; problem: string; input: string }>;
}
export function fuzz(
  api: FuzzApi,
  options: { seed?: number; count?: number; timeMs?: number; slowMs?: number; repo: string; idFiles: { passwd: string; group: string } },
): FuzzResult;
