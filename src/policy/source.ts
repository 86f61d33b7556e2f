/** Source text with positions, and the one way policy errors are made. */
import { JailError, type SourceSpan } from '../errors';

export class Source {
  private readonly lineStarts: number[] = [0];

  constructor(readonly file: string, readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') this.lineStarts.push(i + 1);
  }

  /** 1-based line and column of offset `pos` (a tab counts one column, as in kafel). */
  position(pos: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: pos - this.lineStarts[lo] + 1 };
  }

  span(pos: number, length: number): SourceSpan {
    const { line, col } = this.position(pos);
    const start = this.lineStarts[line - 1];
    const end = this.text.indexOf('\n', start);
    const lineText = this.text.slice(start, end < 0 ? undefined : end);
    return { file: this.file, line, col, length: Math.max(1, Math.min(length, lineText.length - col + 1)), lineText };
  }
}

/** A place in some source, carried by tokens and AST nodes until a semantic error needs it. */
export interface Loc {
  source: Source;
  pos: number;
  length: number;
}

export function policyError(message: string, loc?: Loc, hint?: string): JailError {
  return new JailError('policy', message, {
    span: loc ? loc.source.span(loc.pos, loc.length) : undefined,
    hint,
  });
}
