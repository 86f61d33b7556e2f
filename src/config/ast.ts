/**
 * What the three front ends (text proto, JSON, plain objects) produce before the schema is
 * applied: a tree of field entries whose scalars keep their source form, so one builder
 * (build.ts) checks types, ranges, duplicates and defaults for all of them.
 */
import type { SourceSpan } from '../errors';

export type Dialect = 'text' | 'json' | 'object';

export interface MessageNode {
  kind: 'message';
  fields: FieldEntry[];
  /** Where the message starts (its field name, or the opening brace). */
  span?: SourceSpan;
}

/** A text-proto scalar token: `ident` (enum names, booleans), numbers, or string literal(s). */
export interface TextScalar {
  kind: 'text';
  token: 'ident' | 'int' | 'float' | 'string';
  /** Source text as written (with a leading '-' if negated); for strings, the decoded text. */
  text: string;
  /** Decoded bytes of a string literal (adjacent literals concatenated). */
  bytes?: Uint8Array;
  span: SourceSpan;
}

/** A JSON value that is not an object (objects become MessageNodes). */
export interface JsonScalar {
  kind: 'json';
  type: 'string' | 'number' | 'bool' | 'null' | 'array';
  /** The string's value, or a number's / literal's source text. */
  text: string;
  span: SourceSpan;
}

/** A value from a JavaScript object (library callers). */
export interface JsValue {
  kind: 'js';
  value: unknown;
}

export type ValueNode = MessageNode | TextScalar | JsonScalar | JsValue;

export interface FieldEntry {
  /** The name as written (snake_case, or camelCase in JSON and objects). */
  name: string;
  /** From the name to the end of the value when both are on one line, else the name. */
  span?: SourceSpan;
  nameSpan?: SourceSpan;
  /** One value, or the items of a `[...]` list. Empty for `[]` and for JSON null. */
  values: ValueNode[];
  /** The value was a list. */
  list: boolean;
  /** Text format: a ':' followed the name (protobuf requires it before scalars). */
  colon: boolean;
}
