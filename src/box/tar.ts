/**
 * A tar decoder for image layers and image archives (ustar, GNU long names, pax headers). Layers
 * are untrusted input, so this file only decodes: it never touches the file system, and what an
 * entry does to a tree is src/box/layer.ts's business. Push-based (`push(chunk)`), so a layer is
 * read straight from its (decompressing) stream without ever being held whole in memory.
 */
import { JailError } from '../errors';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** The name as written in the archive (pax `path`, GNU long name, or ustar prefix/name). */
  path: string;
  type: TarEntryType;
  /** Permission bits, setuid/setgid/sticky included. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Symlink target, or the archive path a hard link names. */
  linkpath: string;
  /** Where the entry's data starts in the (decompressed) archive. */
  offset: number;
}

/** Takes an entry's data, in order, then `end()`. */
export interface EntrySink {
  write(chunk: Buffer): void;
  end(): void;
}

const BLOCK = 512;
/** Pax headers and GNU long names are metadata: more than this is an attack, not a name. */
const MAX_META = 1 << 20;

const TYPES: Record<string, TarEntryType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

const corrupt = (what: string, offset: number) =>
  new JailError('usage', `not a valid tar archive: ${what} at byte ${offset}`, { hint: 'the layer or archive is truncated or not a tar file (gzip and uncompressed tar are read)' });

/** A NUL-terminated string field. */
function text(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

/** A numeric field: octal digits (space/NUL terminated), or GNU base-256 when the high bit is set. */
function num(b: Buffer, start: number, len: number, at: number): number {
  if (b[start] & 0x80) {
    if (b[start] !== 0x80) throw corrupt('a negative number field', at);
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i];
    if (!Number.isSafeInteger(v)) throw corrupt('a number field too large', at);
    return v;
  }
  const s = text(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw corrupt(`the number field '${s}'`, at);
  return parseInt(s, 8);
}

/** The header checksum: the sum of its bytes with the checksum field read as spaces (signed or unsigned, as old tars differ). */
function checksumOk(h: Buffer): boolean {
  const field = text(h, 148, 8).trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

/** Pax extended header records: `LEN KEY=VALUE\n`, LEN counting the whole record in bytes. */
export function parsePax(data: Buffer, at = 0): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    const len = space > i ? Number(data.subarray(i, space).toString('latin1')) : NaN;
    if (!Number.isInteger(len) || len <= space - i || i + len > data.length || data[i + len - 1] !== 0x0a) throw corrupt('a malformed pax header', at);
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) throw corrupt('a malformed pax header', at);
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

function paxNumber(pax: Record<string, string>, key: string, fallback: number, at: number): number {
  const v = pax[key];
  if (v === undefined) return fallback;
  const n = key === 'mtime' ? Math.floor(Number(v)) : Number(v);
  if (!Number.isSafeInteger(n) || n < 0 || !/^[0-9.]+$/.test(v)) throw corrupt(`the pax ${key} '${v}'`, at);
  return n;
}

/**
 * Decodes a tar stream: `onEntry` is called for every file system entry (metadata entries are
 * folded into the next one) and returns a sink for a regular file's data, or null to skip it.
 * Stops at the end-of-archive block; `end()` throws when the stream stopped inside an entry.
 */
export class TarReader {
  private header = Buffer.alloc(0);
  private position = 0;
  private remaining = 0;
  private padding = 0;
  private sink: EntrySink | null = null;
  private meta: { type: string; chunks: Buffer[] } | null = null;
  private pax: Record<string, string> = {};
  private globalPax: Record<string, string> = {};
  private longName: string | undefined;
  private longLink: string | undefined;
  private finished = false;

  constructor(private readonly onEntry: (entry: TarEntry) => EntrySink | null) {}

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.finished) {
      if (this.remaining > 0) {
        const part = chunk.subarray(off, off + Math.min(this.remaining, chunk.length - off));
        if (this.meta) this.meta.chunks.push(Buffer.from(part));
        else this.sink?.write(part);
        off += part.length;
        this.position += part.length;
        this.remaining -= part.length;
        if (this.remaining === 0) this.endData();
      } else if (this.padding > 0) {
        const n = Math.min(this.padding, chunk.length - off);
        off += n;
        this.position += n;
        this.padding -= n;
      } else {
        const n = Math.min(BLOCK - this.header.length, chunk.length - off);
        this.header = Buffer.concat([this.header, chunk.subarray(off, off + n)]);
        off += n;
        if (this.header.length === BLOCK) {
          const h = this.header;
          this.header = Buffer.alloc(0);
          this.position += BLOCK;
          this.onHeader(h);
        }
      }
    }
  }

  /** The stream ended: fine after the end-of-archive block or between entries, not inside one. */
  end(): void {
    if (!this.finished && (this.remaining > 0 || this.padding > 0 || this.header.length > 0 || this.meta)) throw corrupt('the stream ends inside an entry', this.position);
    this.finished = true;
  }

  private onHeader(h: Buffer): void {
    const at = this.position - BLOCK;
    if (h.every((b) => b === 0)) {
      this.finished = true;
      return;
    }
    if (!checksumOk(h)) throw corrupt('a header with a bad checksum', at);
    const flag = String.fromCharCode(h[156]);
    const size = num(h, 124, 12, at);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META) throw corrupt(`a ${size}-byte metadata entry`, at);
      this.meta = { type: flag, chunks: [] };
      this.startData(size);
      return;
    }
    const type = TYPES[flag];
    if (type === undefined) {
      throw new JailError('usage', `unsupported tar entry type '${flag}' at byte ${at}`, { hint: 'layers may hold files, directories, links, device nodes and fifos (sparse and multi-volume entries are not read)' });
    }
    const pax = { ...this.globalPax, ...this.pax };
    // POSIX ustar splits long names into prefix/name; GNU's "ustar  " magic uses those bytes otherwise.
    const posix = h.subarray(257, 263).toString('latin1') === 'ustar\0';
    const prefix = posix ? text(h, 345, 155) : '';
    const name = text(h, 0, 100);
    const entry: TarEntry = {
      path: pax.path ?? this.longName ?? (prefix ? `${prefix}/${name}` : name),
      type,
      mode: num(h, 100, 8, at) & 0o7777,
      uid: paxNumber(pax, 'uid', num(h, 108, 8, at), at),
      gid: paxNumber(pax, 'gid', num(h, 116, 8, at), at),
      size: paxNumber(pax, 'size', size, at),
      mtime: paxNumber(pax, 'mtime', num(h, 136, 12, at), at),
      linkpath: pax.linkpath ?? this.longLink ?? text(h, 157, 100),
      offset: this.position,
    };
    if (entry.path.includes('\0') || entry.linkpath.includes('\0')) throw corrupt('a name with a NUL byte', at);
    this.pax = {};
    this.longName = this.longLink = undefined;
    this.sink = this.onEntry(entry);
    this.startData(entry.size);
  }

  private startData(size: number): void {
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.endData();
  }

  private endData(): void {
    if (this.meta) {
      const data = Buffer.concat(this.meta.chunks);
      const at = this.position - data.length;
      if (this.meta.type === 'L') this.longName = text(data, 0, data.length);
      else if (this.meta.type === 'K') this.longLink = text(data, 0, data.length);
      else if (this.meta.type === 'x') this.pax = parsePax(data, at);
      else Object.assign(this.globalPax, parsePax(data, at));
      this.meta = null;
    } else {
      this.sink?.end();
      this.sink = null;
    }
  }
}
