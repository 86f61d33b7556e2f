/**
 * Names and arguments an image build takes from the user: image names (src/box/state-dir.ts),
 * layer entry names (src/box/layer.ts), mmdebstrap's arguments (src/box/debian.ts).
 */
import { describe, expect, it } from 'vitest';
import { mmdebstrapArgs } from '../../../src/box/debian';
import { entryParts } from '../../../src/box/layer';
import { checkName } from '../../../src/box/state-dir';
import { thrown } from '../../helpers/thrown';

describe('image names', () => {
  it('accepts one path component of lower-case letters, digits, . _ -', () => {
    for (const ok of ['deb', 'python3.12', 'a_b-c', '0x']) expect(checkName('image', ok)).toBe(ok);
  });
  it('refuses anything that could be a path, an option or a hidden scratch directory', () => {
    for (const bad of ['', '.tmp-x', '-rf', 'a/b', '..', 'a..b', 'Deb', 'x'.repeat(64), 'a b']) expect(thrown(() => checkName('image', bad)).message).toMatch(/not a valid image name/);
  });
});

describe('layer entry names', () => {
  it('drops ., empty parts and a leading /', () => {
    expect(entryParts('./usr/bin/')).toEqual(['usr', 'bin']);
    expect(entryParts('/etc//passwd')).toEqual(['etc', 'passwd']);
    expect(entryParts('./')).toEqual([]);
  });
  it("refuses a '..' component anywhere", () => {
    for (const bad of ['../x', 'a/../../x', 'a/..', '..']) expect(thrown(() => entryParts(bad)).message).toMatch(/refused: it has a '\.\.' component/);
    expect(entryParts('a/..b/c..')).toEqual(['a', '..b', 'c..']);
  });
});

describe('mmdebstrap arguments', () => {
  it('root mode as root, unshare rootless; tar to stdout; packages and mirror', () => {
    expect(mmdebstrapArgs({ suite: 'bookworm' }, false)).toEqual(['--variant=minbase', '--mode=root', '--format=tar', 'bookworm', '-']);
    expect(mmdebstrapArgs({ suite: 'trixie', variant: 'apt', packages: ['python3', 'git', 'libc6:amd64', 'curl=7.88.1-10+deb12u5'], mirror: 'http://deb.debian.org/debian' }, true)).toEqual([
      '--variant=apt',
      '--mode=unshare',
      '--format=tar',
      '--include=python3,git,libc6:amd64,curl=7.88.1-10+deb12u5',
      'trixie',
      '-',
      'http://deb.debian.org/debian',
    ]);
  });
  it('refuses values that are not names (nothing may read as an option or a second argument)', () => {
    expect(thrown(() => mmdebstrapArgs({ suite: '--help' }, false)).message).toMatch(/--debian: '--help' is not a Debian suite name/);
    expect(thrown(() => mmdebstrapArgs({ suite: 'bookworm', packages: ['a b'] }, false)).message).toMatch(/--packages: 'a b'/);
    expect(thrown(() => mmdebstrapArgs({ suite: 'bookworm', packages: ['-x'] }, false)).message).toMatch(/--packages: '-x'/);
    expect(thrown(() => mmdebstrapArgs({ suite: 'bookworm', mirror: 'deb.debian.org' }, false)).message).toMatch(/--mirror: 'deb.debian.org' is not an http/);
    expect(thrown(() => mmdebstrapArgs({ suite: 'bookworm', variant: 'fat' as never }, false)).message).toMatch(/--variant: 'fat' is not one of essential, apt/);
  });
});
