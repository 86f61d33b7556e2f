import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { configFromFlags, defineJailFlags, formatConfigText, jailFlagNames, loadConfig, parseConfigJson, parseConfigText } from '../../../src/config';
import { JailError } from '../../../src/errors';
import { dir, idFiles } from './helpers';

/** Deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { int, pick };
}

const EXAMPLES = join(__dirname, '../../../examples');
const sources = readdirSync(EXAMPLES)
  .filter((f) => /\.(cfg|json)$/.test(f))
  .map((f) => ({ name: f, json: f.endsWith('.json'), text: readFileSync(join(EXAMPLES, f), 'utf8') }));

const TOKENS = [
  '{', '}', '<', '>', '[', ']', ':', ';', ',', '-', '"', "'", '\\', '#', '\n', ' ', '.', '/', '0', '0x', '077', '09', '1e9',
  '-1', '4294967296', '18446744073709551616', 'true', 'f', 'inf', 'nan', 'ONCE', 'LISTEN', 'mount', 'dst', 'src_content',
  'uidmap', 'inside_id', 'exec_bin', 'user_net', 'time_limit', 'isBind', '"\\x', '"\\u12"', '"\\377"', 'null', '"é"', '\u{1F600}',
];

function mutate(text: string, r: ReturnType<typeof rng>): string {
  let s = text;
  const edits = 1 + r.int(4);
  for (let k = 0; k < edits; k++) {
    const at = r.int(s.length + 1);
    switch (r.int(6)) {
      case 0: // delete a run
        s = s.slice(0, at) + s.slice(at + 1 + r.int(20));
        break;
      case 1: // insert a token
        s = s.slice(0, at) + r.pick(TOKENS) + s.slice(at);
        break;
      case 2: // duplicate a slice elsewhere
        s = s.slice(0, at) + s.slice(r.int(s.length), r.int(s.length)) + s.slice(at);
        break;
      case 3: // replace one character
        s = s.slice(0, at) + String.fromCharCode(r.int(128)) + s.slice(at + 1);
        break;
      case 4: // truncate
        s = s.slice(0, at);
        break;
      default: // swap two halves
        s = s.slice(at) + s.slice(0, at);
    }
  }
  return s;
}

/** Only config errors may come out, and all of them must be JailErrors with code 'config'. */
function expectConfigErrorOnly(e: unknown, input: string): void {
  if (!(e instanceof JailError) || e.code !== 'config' || !e.errors.every((x) => x instanceof JailError && x.code === 'config')) {
    throw new Error(`unexpected ${String(e)} for input:\n${input}`, { cause: e });
  }
}

describe('fuzz', () => {
  it('random mutations of the examples parse or fail with config errors, never crash or hang', { timeout: 60_000 }, () => {
    const r = rng(20261125);
    const started = Date.now();
    let runs = 0;
    let parsed = 0;
    // Bounded in count and in time: stop at whichever comes first.
    while (runs < 3000 && Date.now() - started < 15_000) {
      const src = r.pick(sources);
      const input = mutate(src.text, r);
      runs++;
      try {
        const t0 = Date.now();
        const loaded = src.json ? parseConfigJson(input, src.name, { idFiles }) : parseConfigText(input, src.name, { idFiles });
        expect(Date.now() - t0).toBeLessThan(1000);
        parsed++;
        // Whatever parses must survive the canonical round trip.
        expect(parseConfigText(formatConfigText(loaded.config), 'canonical', { idFiles }).config).toEqual(loaded.config);
      } catch (e) {
        expectConfigErrorOnly(e, input);
      }
    }
    expect(runs).toBeGreaterThanOrEqual(300);
    expect(parsed).toBeGreaterThan(0);
  });

  it('loadConfig never throws anything but config errors for arbitrary text', { timeout: 30_000 }, () => {
    const r = rng(7);
    const started = Date.now();
    for (let i = 0; i < 2000 && Date.now() - started < 5_000; i++) {
      const input = Array.from({ length: r.int(40) }, () => r.pick(TOKENS)).join(r.pick(['', ' ', '\n']));
      try {
        loadConfig(input, { cwd: dir, idFiles });
      } catch (e) {
        expectConfigErrorOnly(e, input);
      }
    }
  });

  it('random flag lines give a config or flag/config errors', { timeout: 30_000 }, () => {
    const r = rng(42);
    const names = jailFlagNames().filter((n) => n !== 'config');
    const values = ['', '0', '-1', '3', 'abc', '1G', '0.5', 'inf', 'soft', '/a:/b', 'a:b:c:d', 'nobody', 'CAP_KILL', 'l', 'x', '65536', '1:2:3'];
    const started = Date.now();
    for (let i = 0; i < 1000 && Date.now() - started < 5_000; i++) {
      const cmd = new Command().exitOverride().allowExcessArguments().configureOutput({ writeErr: () => {}, writeOut: () => {} });
      const rec = defineJailFlags(cmd);
      const argv: string[] = [];
      for (let k = r.int(8); k > 0; k--) argv.push(`--${r.pick(names)}`, r.pick(values));
      try {
        cmd.parse(argv, { from: 'user' });
        configFromFlags(rec.events, { cwd: dir, idFiles });
      } catch (e) {
        if (e instanceof CommanderError) continue;
        const ok = e instanceof JailError && (e.errors.length ? e.errors : [e]).every((x) => x.code === 'flag' || x.code === 'config');
        if (!ok) throw new Error(`unexpected ${String(e)} for ${JSON.stringify(argv)}`, { cause: e });
      }
    }
  });
});
