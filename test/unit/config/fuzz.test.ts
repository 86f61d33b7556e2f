import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { configFromFlags, defineJailFlags, formatConfigText, jailFlagNames, loadConfig, parseConfigJson, parseConfigText } from '../../../src/config';
import { JailError } from '../../../src/errors';
import { dir, idFiles } from './helpers';
import { CONFIG_TOKENS as TOKENS, corpus, mutate, rng } from '../../../bench/fuzz-engine.mjs';

const examples = corpus(join(__dirname, '../../..'));
const sources = [...examples.text.map((f) => ({ ...f, json: false })), ...examples.json.map((f) => ({ ...f, json: true }))];

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
