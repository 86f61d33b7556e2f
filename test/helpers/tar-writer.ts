/**
 * Writes tar archives byte by byte, for tests that need entries no well-behaved tar program
 * writes (names with '..', links out of the tree, pax records, a bad checksum). Ordinary
 * fixtures are made with the system tar instead.
 */
export interface TarItem {
  path: string;
  /** The ustar type flag: '0' file, '1' hard link, '2' symlink, '3' char device, '5' dir, 'x' pax, 'L' GNU long name. */
  type?: string;
  data?: string | Buffer;
  linkpath?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  /** ustar prefix field (names up to 255 bytes). */
  prefix?: string;
}

const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';

export function tarHeader(item: TarItem, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(item.path, 0, 100, 'utf8');
  h.write(octal(item.mode ?? (item.type === '5' ? 0o755 : 0o644), 8), 100, 'latin1');
  h.write(octal(item.uid ?? 0, 8), 108, 'latin1');
  h.write(octal(item.gid ?? 0, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(item.mtime ?? 1_700_000_000, 12), 136, 'latin1');
  h.write(item.type ?? '0', 156, 'latin1');
  h.write(item.linkpath ?? '', 157, 100, 'utf8');
  h.write('ustar\x0000', 257, 'latin1');
  h.write(item.prefix ?? '', 345, 155, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

/** A pax extended header record: `LEN key=value\n`. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return `${len}${body}`;
}

/** The archive of `items`, with the two zero blocks that end it unless `end` is false. */
export function tarBuffer(items: TarItem[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) {
    const data = Buffer.from(item.data ?? '');
    parts.push(tarHeader(item, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
