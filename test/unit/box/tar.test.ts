/**
 * The tar decoder (src/box/tar.ts) on archives written byte by byte: ustar prefixes, pax and GNU
 * long names, data split across any chunk boundary, and the malformed archives it must refuse.
 */
import { describe, expect, it } from 'vitest';
import { parsePax, TarReader, type TarEntry } from '../../../src/box/tar';
import { JailError } from '../../../src/errors';
import { paxRecord, tarBuffer, tarHeader } from '../../helpers/tar-writer';

/** Decodes `archive` pushed in chunks of `chunk` bytes: the entries and each file's data. */
function decode(archive: Buffer, chunk = archive.length): { entries: TarEntry[]; data: Record<string, string> } {
  const entries: TarEntry[] = [];
  const data: Record<string, string> = {};
  const reader = new TarReader((e) => {
    entries.push(e);
    if (e.type !== 'file') return null;
    const parts: Buffer[] = [];
    return { write: (b) => parts.push(Buffer.from(b)), end: () => (data[e.path] = Buffer.concat(parts).toString()) };
  });
  for (let off = 0; off < archive.length; off += chunk) reader.push(archive.subarray(off, off + chunk));
  reader.end();
  return { entries, data };
}

const sample = () =>
  tarBuffer([
    { path: 'etc/', type: '5', mode: 0o755 },
    { path: 'etc/hello', data: 'hello world\n', mode: 0o4755, uid: 1000, gid: 100, mtime: 1234567890 },
    { path: 'etc/link', type: '2', linkpath: '../usr/bin' },
    { path: 'etc/hard', type: '1', linkpath: 'etc/hello' },
    { path: 'dev/null', type: '3' },
    { path: 'big', data: 'x'.repeat(1500) },
  ]);

describe('TarReader', () => {
  it('decodes types, modes, owners, times, link targets and data', () => {
    const { entries, data } = decode(sample());
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['etc/', 'dir'],
      ['etc/hello', 'file'],
      ['etc/link', 'symlink'],
      ['etc/hard', 'hardlink'],
      ['dev/null', 'char'],
      ['big', 'file'],
    ]);
    expect(entries[1]).toMatchObject({ mode: 0o4755, uid: 1000, gid: 100, mtime: 1234567890, size: 12, offset: 1024 });
    expect(entries[2].linkpath).toBe('../usr/bin');
    expect(entries[3].linkpath).toBe('etc/hello');
    expect(data).toEqual({ 'etc/hello': 'hello world\n', big: 'x'.repeat(1500) });
  });

  it('gives the same result whatever the chunk boundaries', () => {
    const whole = decode(sample());
    for (const chunk of [1, 7, 511, 512, 513]) expect(decode(sample(), chunk)).toEqual(whole);
  });

  it('joins the ustar prefix and name', () => {
    const prefix = 'a'.repeat(120);
    expect(decode(tarBuffer([{ path: 'file', prefix }])).entries[0].path).toBe(`${prefix}/file`);
  });

  it('takes path, linkpath, size, uid and mtime from a pax header for the next entry only', () => {
    const long = 'd/'.repeat(80) + 'file';
    const pax = paxRecord('path', long) + paxRecord('uid', '4000000') + paxRecord('mtime', '1700000000.25') + paxRecord('SCHILY.xattr.user.x', 'ignored');
    const { entries } = decode(tarBuffer([{ path: 'PaxHeader', type: 'x', data: pax }, { path: 'short', data: 'abc' }, { path: 'next' }]));
    expect(entries.map((e) => e.path)).toEqual([long, 'next']);
    expect(entries[0]).toMatchObject({ uid: 4000000, mtime: 1700000000 });
    expect(entries[1].uid).toBe(0);
  });

  it('applies GNU long names (L) and long link names (K)', () => {
    const name = 'n'.repeat(300);
    const target = 't'.repeat(200);
    const { entries } = decode(tarBuffer([{ path: '././@LongLink', type: 'L', data: name + '\0' }, { path: '././@LongLink', type: 'K', data: target + '\0' }, { path: 'x', type: '2' }]));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ path: name, linkpath: target, type: 'symlink' });
  });

  it('stops at the end-of-archive block and ignores what follows', () => {
    const archive = Buffer.concat([tarBuffer([{ path: 'a' }]), Buffer.from('garbage after the end')]);
    expect(decode(archive).entries.map((e) => e.path)).toEqual(['a']);
  });

  it('accepts an archive without the end blocks, but not one cut inside an entry', () => {
    expect(decode(tarBuffer([{ path: 'a', data: 'x' }], false)).entries).toHaveLength(1);
    const cut = tarBuffer([{ path: 'a', data: 'x'.repeat(1000) }]).subarray(0, 900);
    expect(() => decode(cut)).toThrow(/ends inside an entry/);
  });

  it('refuses a header with a bad checksum (not a tar, or corrupt)', () => {
    const archive = tarBuffer([{ path: 'a' }]);
    archive[0] ^= 1;
    expect(() => decode(archive)).toThrow(JailError);
    expect(() => decode(Buffer.concat([Buffer.from('\x1f\x8b gzip, not tar'), Buffer.alloc(600, 1)]))).toThrow(/bad checksum at byte 0/);
  });

  it('refuses sparse entries and oversized metadata', () => {
    expect(() => decode(tarBuffer([{ path: 's', type: 'S' }]))).toThrow(/unsupported tar entry type 'S'/);
    const header = tarHeader({ path: 'huge', type: 'x' }, 2 << 20);
    expect(() => decode(header)).toThrow(/metadata entry/);
  });

  it('parsePax reads records by their length and refuses malformed ones', () => {
    expect(parsePax(Buffer.from(paxRecord('path', 'a b=c') + paxRecord('size', '5')))).toEqual({ path: 'a b=c', size: '5' });
    expect(() => parsePax(Buffer.from('99 path=x\n'))).toThrow(/malformed pax/);
    expect(() => parsePax(Buffer.from('9 pathx\n'))).toThrow(/malformed pax/);
  });
});
