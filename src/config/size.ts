/**
 * Human sizes ("512M", "1.5G", "1GiB", "4096") for the Docker-style flags (`--memory`) and for
 * byte-valued flags. Every unit is binary (K = 1024), as Docker's `--memory` reads them, so
 * `1G` and `1GiB` mean the same thing.
 */
import { JailError } from '../errors';

const UNIT_SHIFT: Record<string, number> = { '': 0, b: 0, k: 10, m: 20, g: 30, t: 40, p: 50 };

const SIZE_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*([kmgtp]?)(i?b)?$/i;

/**
 * Bytes in `text`: a whole number of bytes, or a number (fractions allowed) with a unit
 * K/M/G/T/P, optionally followed by B or iB. A fractional result is rounded down to whole
 * bytes. Throws JailError('flag') naming what is accepted.
 */
export function parseSize(text: string): number {
  const m = SIZE_RE.exec(text.trim());
  const unit = m ? m[2].toLowerCase() : '';
  // A bare "B"/"iB" suffix without a unit letter: only "B" makes sense ("512B").
  const badSuffix = m !== null && m[3] !== undefined && unit === '' && m[3].toLowerCase() !== 'b';
  if (!m || badSuffix) {
    throw new JailError(
      'flag',
      `invalid size '${text}': expected bytes, or a number with a unit K, M, G, T (binary: 1K = 1024), e.g. 512M, 1.5G, 1GiB`,
    );
  }
  const bytes = Math.floor(Number(m[1]) * 2 ** UNIT_SHIFT[unit]);
  if (!Number.isSafeInteger(bytes)) {
    throw new JailError('flag', `invalid size '${text}': too large (at most 2^53 bytes)`);
  }
  return bytes;
}

/** Bytes in words for messages: the largest binary unit that keeps it short ("1 GiB", "1.5 GiB", "300 KiB", "1000 bytes"). */
export function formatSize(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let unit = '';
  let value = bytes;
  for (let i = 0; i < units.length && value >= 1024; i++) {
    value /= 1024;
    unit = units[i];
  }
  if (unit === '') return `${bytes} bytes`;
  return `${Number(value.toFixed(2))} ${unit}`;
}
