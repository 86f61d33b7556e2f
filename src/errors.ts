/**
 * The one error class of `jail`. Every stage throws JailError with a stable `code`; only the
 * CLI entry turns it into text and an exit code, and library users get it as a rejection.
 *
 * Message shape (docs/architecture.md §8): what failed, the value received, what is accepted; `hint`
 * says how to fix it when the usual cause is the environment.
 */

/** A place in a config or policy file. Lines and columns are 1-based; `col` counts bytes. */
export interface SourceSpan {
  file: string;
  line: number;
  col: number;
  /** Length of the offending token in columns (for the caret run); at least 1. */
  length?: number;
  /** The whole source line, so the error can be printed without re-reading the file. */
  lineText?: string;
}

export type JailErrorCode =
  /** A command-line flag or its value is wrong. */
  | 'flag'
  /** A config file (text proto / JSON) or a library config object is wrong. */
  | 'config'
  /** A seccomp policy does not compile. */
  | 'policy'
  /** The command to run cannot be found or is not executable. */
  | 'not-found'
  /** An isolation step failed while the jail was being built (after clone, before exec). */
  | 'setup'
  /** Creating or using a cgroup failed. */
  | 'cgroup'
  /** The machine cannot do what was asked (no user namespaces, no addon, ...). */
  | 'environment'
  /** The caller used the library API wrongly (bad option types). */
  | 'usage'
  /** A bug in jail itself. */
  | 'internal';

export interface JailErrorOptions {
  span?: SourceSpan;
  hint?: string;
  cause?: unknown;
  /** Several independent errors reported at once (a config validator reports all fields). */
  errors?: JailError[];
  /** Machine-readable details for the report (e.g. `{stage, errno}` of a setup failure). */
  details?: Record<string, unknown>;
}

export class JailError extends Error {
  readonly code: JailErrorCode;
  readonly span?: SourceSpan;
  readonly hint?: string;
  readonly errors: JailError[];
  readonly details?: Record<string, unknown>;

  constructor(code: JailErrorCode, message: string, options: JailErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JailError';
    this.code = code;
    this.span = options.span;
    this.hint = options.hint;
    this.errors = options.errors ?? [];
    this.details = options.details;
  }

  /** Throws one JailError carrying all of `errors` (the first one's message leads). */
  static throwAll(errors: JailError[]): void {
    if (errors.length === 0) return;
    if (errors.length === 1) throw errors[0];
    const first = errors[0];
    throw new JailError(first.code, `${errors.length} errors`, { errors });
  }
}

/** `file:line:col: message`, the source line and a caret run under the offending token. */
export function formatSpan(span: SourceSpan, message: string): string {
  const head = `${span.file}:${span.line}:${span.col}: ${message}`;
  if (span.lineText === undefined) return head;
  const line = span.lineText.replace(/\t/g, ' ');
  const caret = ' '.repeat(Math.max(0, span.col - 1)) + '^'.repeat(Math.max(1, span.length ?? 1));
  return `${head}\n  ${line}\n  ${caret}`;
}

/** Renders an error (and its children) the way the CLI prints it. */
export function formatError(err: unknown): string {
  if (!(err instanceof JailError)) {
    const e = err as Error;
    return `internal error: ${e?.stack ?? String(err)}`;
  }
  const parts: string[] = [];
  const list = err.errors.length > 0 ? err.errors : [err];
  for (const e of list) {
    let text = e.span ? formatSpan(e.span, e.message) : e.message;
    if (e.hint) text += `\n  hint: ${e.hint}`;
    parts.push(text);
  }
  if (err.errors.length > 0 && err.hint) parts.push(`hint: ${err.hint}`);
  return parts.join('\n');
}

/** A failed listen() of one of jail's servers (LISTEN mode, `jail serve`), with the usual fix. */
export function listenError(where: string, e: NodeJS.ErrnoException): JailError {
  const hint =
    e.code === 'EADDRINUSE' ? 'another program listens there: pick another port (or 0 for a free one)' : e.code === 'EACCES' ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE' : undefined;
  return new JailError('usage', `cannot listen on ${where}: ${e.code ?? e.message}`, { hint });
}
