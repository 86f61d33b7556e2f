/**
 * `POST /v1/run` bodies: JSON -> a checked RunRequest, or a RequestError naming the field, the
 * value, what is accepted and how to fix it. The rule that matters most lives here: a request
 * can only narrow the server's config. Its `config` may set a few limits to at most the server's
 * and add environment variables the server allows; every other field (mounts, capabilities,
 * namespaces, network, seccomp, ...) is refused, so nothing a client sends widens the jail.
 */
import { JailError } from '../errors';
import { configFromObject } from '../config/load';
import { isPlainObject } from '../config/object';
import type { Config, RLimitType } from '../config/types';
import type { Language } from './languages';

/** A refused request: the HTTP status and a message for the client. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers (Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

const bad = (message: string) => new RequestError(400, message);

/** What the server allows; fixed when it starts. */
export interface RequestLimits {
  /** The server's config: the widest jail a request may get. */
  base: Config;
  languages: ReadonlyMap<string, Language>;
  /** Most entries in `files`. */
  maxFiles: number;
  /** Environment variable names a request may set through config.envar. */
  envAllow: ReadonlySet<string>;
  /** Cap per captured stream; a request may ask for less. */
  maxOutputBytes: number;
}

/** The config fields a request may set (a narrowed copy of the server's). */
export type Narrowed = Partial<Pick<Config, 'timeLimit' | 'envar' | RlimitKey | CgroupKey> & Record<`${RlimitKey}Type`, RLimitType>>;

export interface RunRequest {
  /** argv; for code + language, the interpreter and the code file's name (relative to the run's directory). */
  command: string[];
  /** Files to write into the run's directory (code included), as [relative path, content]. */
  files: [string, string][];
  stdin?: string;
  narrowed: Narrowed;
  maxOutputBytes: number;
}

const TOP_FIELDS = ['command', 'code', 'language', 'stdin', 'files', 'config', 'timeLimit', 'maxOutputBytes'];

type RlimitKey = 'rlimitAs' | 'rlimitCore' | 'rlimitCpu' | 'rlimitFsize' | 'rlimitNofile' | 'rlimitNproc' | 'rlimitStack';
type CgroupKey = 'cgroupMemMax' | 'cgroupPidsMax' | 'cgroupCpuMsPerSec';

const RLIMITS: Record<string, RlimitKey> = {
  rlimit_as: 'rlimitAs',
  rlimit_core: 'rlimitCore',
  rlimit_cpu: 'rlimitCpu',
  rlimit_fsize: 'rlimitFsize',
  rlimit_nofile: 'rlimitNofile',
  rlimit_nproc: 'rlimitNproc',
  rlimit_stack: 'rlimitStack',
};
/** Limits where 0 means "none" (so 0 is the widest value, not the narrowest). */
const CGROUP_LIMITS: Record<string, CgroupKey> = {
  cgroup_mem_max: 'cgroupMemMax',
  cgroup_pids_max: 'cgroupPidsMax',
  cgroup_cpu_ms_per_sec: 'cgroupCpuMsPerSec',
};
/** The request's config fields, snake_case as in a sandbox.cfg. */
export const OVERRIDABLE = ['time_limit', ...Object.keys(RLIMITS), ...Object.keys(CGROUP_LIMITS), 'envar'];

const MAX_ARGS = 4096;
const MAX_PATH_BYTES = 255;

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
};

function str(name: string, v: unknown): string {
  if (typeof v !== 'string') throw bad(`${name}: expected a string, got ${show(v)}`);
  if (v.includes('\0')) throw bad(`${name}: contains a NUL character; remove it`);
  return v;
}

/** A path in `files`: relative, inside the run's directory, one name per segment. */
export function checkFilePath(p: string): string {
  const name = `files[${show(p)}]`;
  if (p === '') throw bad(`${name}: a file path must not be empty; give a relative path such as "data/input.txt"`);
  if (p.includes('\0')) throw bad(`${name}: contains a NUL character; give a relative path such as "data/input.txt"`);
  if (p.startsWith('/')) throw bad(`${name}: absolute paths are refused; give a path relative to the run's directory, such as "data/input.txt"`);
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) throw bad(`${name}: longer than ${MAX_PATH_BYTES} bytes; give a shorter path`);
  for (const seg of p.split('/')) {
    if (seg === '..' || seg === '.' || seg === '') {
      throw bad(`${name}: the segment '${seg}' is refused (no '..', '.' or empty segments); give a plain relative path such as "data/input.txt"`);
    }
  }
  return p;
}

function parseJson(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw bad(`request body: not JSON (${(e as Error).message}); send a JSON object such as {"command": ["/bin/echo", "hi"]}`);
  }
  if (!isPlainObject(value)) throw bad(`request body: expected a JSON object such as {"command": ["/bin/echo", "hi"]}, got ${show(value)}`);
  return value;
}

function checkCount(name: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad(`${name}: ${show(v)} is refused; give a whole number from 0 to ${max} (the server's limit)`);
  return v;
}

/**
 * The request's config overrides, each checked against the server's value. Values are parsed by
 * the config loader (units, ranges, messages that name the field); then each must be at most the
 * server's.
 */
export function narrowConfig(raw: unknown, base: Config, envAllow: ReadonlySet<string>, timeLimit?: unknown): Narrowed {
  if (raw !== undefined && !isPlainObject(raw)) throw bad(`config: expected an object of config fields such as {"time_limit": 5}, got ${show(raw)}`);
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    const name = snake(key);
    if (!OVERRIDABLE.includes(name)) {
      throw bad(`config.${key}: a request may not set this field (it could widen the server's jail); the fields a request may narrow are ${OVERRIDABLE.join(', ')}`);
    }
    if (name in fields) throw bad(`config.${key}: given twice (as snake_case and camelCase); give it once`);
    fields[name] = value;
  }
  if (timeLimit !== undefined) {
    if ('time_limit' in fields) throw bad('timeLimit: given both as timeLimit and as config.time_limit; give one');
    fields.time_limit = timeLimit;
  }
  let parsed: Config;
  try {
    parsed = configFromObject(fields, 'config').config;
  } catch (e) {
    const err = e as JailError;
    throw bad((err.errors.length > 0 ? err.errors : [err]).map((x) => x.message).join('; '));
  }
  const out: Narrowed = {};
  if ('time_limit' in fields) {
    const v = parsed.timeLimit;
    if (base.timeLimit !== 0 && (v === 0 || v > base.timeLimit)) {
      throw bad(`config.time_limit: ${v} is above the server's limit; give 1..${base.timeLimit} seconds`);
    }
    out.timeLimit = v;
  }
  for (const [name, key] of Object.entries(RLIMITS)) {
    if (!(name in fields)) continue;
    const v = parsed[key];
    const type = base[`${key}Type`];
    if (type === 'SOFT' || type === 'HARD') {
      throw bad(`config.${name}: the server's ${name} is the caller's ${type.toLowerCase()} limit, which a request cannot be checked against; the server's config must give a number (${name}: N) for requests to lower it`);
    }
    if (type === 'VALUE' && v > base[key]) throw bad(`config.${name}: ${v} is above the server's limit; give at most ${base[key]}`);
    out[key] = v;
    out[`${key}Type`] = 'VALUE';
  }
  for (const [name, key] of Object.entries(CGROUP_LIMITS)) {
    if (!(name in fields)) continue;
    const v = parsed[key];
    if (base[key] !== 0 && (v === 0 || v > base[key])) throw bad(`config.${name}: ${v} is above the server's limit (0 means none); give 1..${base[key]}`);
    out[key] = v;
  }
  if ('envar' in fields) {
    for (const e of parsed.envar) {
      const eq = e.indexOf('=');
      const name = eq < 0 ? e : e.slice(0, eq);
      if (eq < 0) throw bad(`config.envar: '${e}' has no value; give NAME=value (a bare NAME would copy the server's own value)`);
      if (!envAllow.has(name)) {
        const allowed = envAllow.size > 0 ? `the server allows ${[...envAllow].join(', ')}` : 'the server allows none (start it with --env-allow NAME)';
        throw bad(`config.envar: '${name}' may not be set by a request; ${allowed}`);
      }
    }
    out.envar = [...base.envar, ...parsed.envar];
  }
  return out;
}

/** Parses and checks a `POST /v1/run` body. */
export function parseRunRequest(body: Buffer, limits: RequestLimits): RunRequest {
  const req = parseJson(body);
  for (const key of Object.keys(req)) {
    if (!TOP_FIELDS.includes(key)) throw bad(`${key}: unknown field; a run request has ${TOP_FIELDS.join(', ')}`);
  }
  const files: [string, string][] = [];
  if (req.files !== undefined) {
    if (!isPlainObject(req.files)) throw bad(`files: expected an object of {"relative/path": "content"}, got ${show(req.files)}`);
    const entries = Object.entries(req.files);
    if (entries.length > limits.maxFiles) throw bad(`files: ${entries.length} files; the server takes at most ${limits.maxFiles}`);
    for (const [p, content] of entries) files.push([checkFilePath(p), str(`files[${show(p)}]`, content)]);
  }
  let command: string[];
  if (req.code !== undefined || req.language !== undefined) {
    if (req.command !== undefined) throw bad('command: give either command or code + language, not both');
    const code = str('code', req.code ?? '');
    const name = str('language', req.language ?? '');
    const language = limits.languages.get(name);
    if (language === undefined) {
      throw bad(`language: ${show(req.language ?? null)} is not available on this server; give one of ${[...limits.languages.keys()].join(', ') || '(none installed)'}`);
    }
    if (files.some(([p]) => p === language.file)) throw bad(`files["${language.file}"]: this name holds the code of a ${name} run; rename the file`);
    files.push([language.file, code]);
    command = [language.interpreter, language.file];
  } else {
    if (!Array.isArray(req.command) || req.command.length === 0) {
      throw bad(`command: expected a non-empty array of strings such as ["/bin/echo", "hi"] (or code + language), got ${show(req.command ?? null)}`);
    }
    if (req.command.length > MAX_ARGS) throw bad(`command: ${req.command.length} arguments; give at most ${MAX_ARGS}`);
    command = req.command.map((a, i) => str(`command[${i}]`, a));
  }
  return {
    command,
    files,
    stdin: req.stdin === undefined ? undefined : str('stdin', req.stdin),
    narrowed: narrowConfig(req.config, limits.base, limits.envAllow, req.timeLimit),
    maxOutputBytes: req.maxOutputBytes === undefined ? limits.maxOutputBytes : checkCount('maxOutputBytes', req.maxOutputBytes, limits.maxOutputBytes),
  };
}

