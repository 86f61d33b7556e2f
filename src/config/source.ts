/**
 * A config file's text with a line table, turning character offsets into SourceSpans
 * (1-based line, 1-based byte column, as errors.ts defines them).
 */
import type { SourceSpan } from '../errors';

export class SourceText {
  private readonly lineStarts: number[] = [0];

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  private lineOf(offset: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The span of text[start, end), cut at the end of start's line (carets stay on one line). */
  span(start: number, end: number = start + 1): SourceSpan {
    const line = this.lineOf(start);
    const lineStart = this.lineStarts[line];
    const next = this.lineStarts[line + 1];
    const lineEnd = next === undefined ? this.text.length : next - 1;
    const lineText = this.text.slice(lineStart, lineEnd).replace(/\r$/, '');
    const col = Buffer.byteLength(this.text.slice(lineStart, start)) + 1;
    const length = Math.max(1, Buffer.byteLength(this.text.slice(start, Math.min(end, lineStart + lineText.length))));
    return { file: this.file, line: line + 1, col, length, lineText };
  }
}
