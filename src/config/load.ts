/**
 * Entry points that turn a config file, text, JSON or a plain object into a LoadedConfig.
 *
 * Text proto or JSON? nsjail tries both parsers and rejects a file both accept. A JSON config
 * must start with '{', and a text-proto config can never start with '{' (it starts with a
 * field name, a comment, or is empty), so looking at the first non-blank character gives the
 * same answer without parsing twice; an empty file is an empty text proto, as in nsjail.
 */
import { readFileSync, statSync } from 'fs';
import * as path from 'path';
import { JailError } from '../errors';
import type { Dialect, MessageNode } from './ast';
import { buildMessage, type BuildContext } from './build';
import { finishConfig, type FinishOptions } from './finish';
import { parseJsonSyntax } from './json';
import { isPlainObject, objectToNode } from './object';
import { NSJAIL_CONFIG } from './schema';
import { SourceText } from './source';
import { parseTextSyntax } from './textproto';
import type { Config, LoadedConfig } from './types';

export interface LoadOptions extends FinishOptions {
  /** Directory that relative config paths are resolved against (default: process.cwd()). */
  cwd?: string;
}

/** Past this many errors the rest is noise (the text parser stops reading there too). */
const MAX_ERRORS = 50;

/** `name` names the input in the "too many errors" line; `origin` prefixes object messages. */
function build(node: MessageNode, dialect: Dialect, errors: JailError[], name: string, origin?: string): LoadedConfig {
  const ctx: BuildContext = { dialect, errors, spans: new Map(), set: new Set(), origin };
  const config = buildMessage(NSJAIL_CONFIG, node, [], ctx) as unknown as Config;
  // Lexing runs ahead of parsing; report in file order all the same.
  errors.sort((a, b) => (a.span?.line ?? Infinity) - (b.span?.line ?? Infinity) || (a.span?.col ?? 0) - (b.span?.col ?? 0));
  if (errors.length > MAX_ERRORS) {
    // At the first error left out, so even this line points into the file.
    errors.splice(MAX_ERRORS, Infinity, new JailError('config', `too many errors; stopped reading ${name}`, { span: errors[MAX_ERRORS].span }));
  }
  JailError.throwAll(errors);
  return { config, spans: ctx.spans, setFields: ctx.set };
}

/** Text proto -> LoadedConfig without the post-parse rules (the flag stage merges first). */
function readTextConfig(text: string, file: string): LoadedConfig {
  const src = new SourceText(file, text);
  const errors: JailError[] = [];
  const node = parseTextSyntax(src, errors);
  return build(node, 'text', errors, file);
}

/** ProtoJSON -> LoadedConfig without the post-parse rules. */
function readJsonConfig(text: string, file: string): LoadedConfig {
  const node = parseJsonSyntax(new SourceText(file, text));
  return build(node, 'json', [], file);
}

/** Either format, chosen by the first non-blank character (see the top of this file). */
export function readConfigAuto(text: string, file: string): LoadedConfig {
  return /^\s*\{/.test(text) ? readJsonConfig(text, file) : readTextConfig(text, file);
}

/** Reads and parses a config file (no post-parse rules). */
export function readConfigFile(file: string, cwd: string): LoadedConfig {
  const full = path.resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new JailError('config', `cannot read config file '${file}': ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: e });
  }
  return readConfigAuto(text, file);
}

/** Parses sandbox.cfg text (protobuf text format). `file` names it in error messages. */
export function parseConfigText(text: string, file = '<config>', opts: FinishOptions = {}): LoadedConfig {
  return finishConfig(readTextConfig(text, file), opts);
}

/** Parses the ProtoJSON form of a config. */
export function parseConfigJson(text: string, file = '<config>', opts: FinishOptions = {}): LoadedConfig {
  return finishConfig(readJsonConfig(text, file), opts);
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * A config from a file path (relative to opts.cwd) if `pathOrText` names an existing file,
 * otherwise from the text itself (text proto or JSON). A single word that is no file and no
 * config text is reported as a missing file.
 */
export function loadConfig(pathOrText: string, opts: LoadOptions = {}): LoadedConfig {
  const cwd = opts.cwd ?? process.cwd();
  const oneLine = !pathOrText.includes('\n');
  if (oneLine && pathOrText !== '' && isFile(path.resolve(cwd, pathOrText))) {
    return finishConfig(readConfigFile(pathOrText, cwd), opts);
  }
  if (oneLine && /^[^\s:{<#"']+$/.test(pathOrText)) {
    throw new JailError('config', `cannot read config file '${pathOrText}': no such file`);
  }
  return finishConfig(readConfigAuto(pathOrText, '<config>'), opts);
}

/**
 * A config from a plain object using nsjail's field names, snake_case (`time_limit`) or
 * camelCase (`timeLimit`). `origin` prefixes error messages ("run() config: mount[2].rw: ...").
 */
export function configFromObject(obj: unknown, origin?: string, opts: FinishOptions = {}): LoadedConfig {
  if (!isPlainObject(obj)) {
    throw new JailError('config', `${origin ? origin + ': ' : ''}a config must be a plain object of nsjail config fields`);
  }
  return finishConfig(build(objectToNode(obj), 'object', [], origin ?? 'the config object', origin), opts);
}

/** The config every default gives: what an empty sandbox.cfg means. */
export function defaultConfig(): Config {
  return configFromObject({}).config;
}
