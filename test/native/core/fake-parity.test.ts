/**
 * The recording fake (test/helpers/fake-addon.ts) stands in for the addon in unit tests; these
 * checks keep it in step with the real build: the same exports, versions and stage names, and a
 * sentence for every stage the addon can report.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../../src/native/types';
import { describeSetupFailure } from '../../../src/supervisor/setup-error';
import { FakeAddon } from '../../helpers/fake-addon';
import { hostPlan, requireAddon } from '../../helpers/native';

let addon: NativeAddon;
beforeAll(() => {
  addon = requireAddon();
});

/** Whether `o` has a method `k` (own or on its class; getters are not read). */
function hasMethod(o: object, k: string): boolean {
  for (let p: object | null = o; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, k);
    if (d) return typeof d.value === 'function';
  }
  return false;
}

describe('the fake addon matches the real one', () => {
  it('has every function the addon exports, and the same versions', () => {
    const fake = new FakeAddon();
    const real = Object.keys(addon).filter((k) => typeof (addon as unknown as Record<string, unknown>)[k] === 'function');
    expect(real.length).toBeGreaterThan(10);
    expect(real.filter((k) => !hasMethod(fake, k))).toEqual([]);
    expect([fake.abiVersion, fake.planVersion]).toEqual([addon.abiVersion, addon.planVersion]);
  });

  it('reports the same stage names', () => {
    expect(new FakeAddon().stageNames()).toEqual(addon.stageNames());
  });

  it('every stage the addon can report gets a sentence with the errno', () => {
    const planned = hostPlan(['--chroot', '/', '--', '/bin/true']);
    for (const stage of addon.stageNames().filter((s) => s !== 'none')) {
      const e = describeSetupFailure(planned, { stage, opIndex: 0, errno: 22 });
      expect(e.stage).toBe(stage);
      expect(e.errno).toBe('EINVAL');
      expect(e.message).toMatch(/: EINVAL \(invalid argument\)/);
    }
  });
});
