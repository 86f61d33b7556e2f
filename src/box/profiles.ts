/**
 * Box settings files (`jail.json` in a project, `~/.config/jail/jail.json` for the user): defaults
 * at the top level and per-agent overrides under `profiles`, in the shape agent sandboxes use:
 *
 *   { "image": "py", "network": "limited",
 *     "resources": { "memory": "2G", "cpus": 2, "pids": 256 },
 *     "mounts": { "workspace_writable": true, "persist_caches": ["pip"] },
 *     "keep_alive": true, "setup": "pip install -r requirements.txt",
 *     "protect": { "read_only": [".git/hooks"], "hidden": [".env"] },
 *     "profiles": { "code": { "network": "internet", "resources": { "memory": "4G" } } } }
 *
 * Read with the config reader's JSON front end, so that every error points at file:line:col.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JailError, type SourceSpan } from '../errors';
import type { FieldEntry, MessageNode, ValueNode } from '../config/ast';
import { parseJsonSyntax } from '../config/json';
import { SourceText } from '../config/source';
import { parseSize } from '../config/size';

export const BOX_NETWORKS = ['none', 'limited', 'internet', 'full', 'host'] as const;
export type BoxNetwork = (typeof BOX_NETWORKS)[number];

/** The caches `persist_caches` may name, and where the box user's tools keep them. */
export const CACHE_DIRS: Record<string, string> = {
  pip: '.cache/pip',
  uv: '.cache/uv',
  npm: '.npm',
  yarn: '.cache/yarn',
  cargo: '.cargo/registry',
  go: 'go/pkg/mod',
  huggingface: '.cache/huggingface',
};

/** One level of settings: every field optional, later levels override earlier ones field by field. */
export interface ProfileSettings {
  image?: string;
  network?: BoxNetwork;
  allow?: string[];
  publish?: string[];
  memoryBytes?: number;
  cpus?: number;
  pids?: number;
  workspaceWritable?: boolean;
  persistCaches?: string[];
  /** 0: stays up until stopped; N: stops itself after N idle seconds. */
  idleSeconds?: number;
  persistent?: boolean;
  setup?: string;
  readOnly?: string[];
  hidden?: string[];
  seccompPolicy?: string;
}

export interface SettingsFile {
  file: string;
  defaults: ProfileSettings;
  profiles: Map<string, ProfileSettings>;
}

function fail(span: SourceSpan | undefined, message: string, hint: string): never {
  throw new JailError('config', message, { span, hint });
}

function scalar(v: ValueNode, span: SourceSpan | undefined, type: 'string' | 'number' | 'bool', what: string): string {
  if (v.kind !== 'json' || v.type !== type) fail(v.kind === 'json' ? v.span : span, `${what} must be a ${type === 'bool' ? 'boolean' : type}`, `write it as ${type === 'string' ? '"..."' : type === 'bool' ? 'true or false' : 'a number'}`);
  return v.text;
}

function stringList(entry: FieldEntry, what: string): string[] {
  if (!entry.list) fail(entry.span, `${what} must be a list of strings`, 'write it as ["a", "b"]');
  return entry.values.map((v) => scalar(v, entry.span, 'string', `each entry of ${what}`));
}

function positive(text: string, span: SourceSpan | undefined, what: string, integer: boolean): number {
  const n = Number(text);
  if (!(n > 0) || (integer && !Number.isInteger(n))) fail(span, `${what} is ${text}, not a positive ${integer ? 'whole ' : ''}number`, `e.g. ${integer ? '256' : '2 or 0.5'}`);
  return n;
}

function one(entry: FieldEntry, what: string): ValueNode {
  if (entry.list || entry.values.length !== 1) fail(entry.span, `${what} takes one value, not a list`, 'remove the brackets');
  return entry.values[0];
}

function message(entry: FieldEntry, what: string): MessageNode {
  const v = one(entry, what);
  if (v.kind !== 'message') fail(entry.span, `${what} must be an object { ... }`, 'see README "Boxes"');
  return v;
}

function spanOf(v: ValueNode, entry: FieldEntry): SourceSpan | undefined {
  return v.kind === 'json' ? v.span : entry.span;
}

/** Reads the fields of `node` with `readers`, refusing unknown names (with the accepted ones). */
function readFields(node: MessageNode, readers: Record<string, (entry: FieldEntry) => void>, where: string): void {
  const seen = new Set<string>();
  for (const entry of node.fields) {
    const read = readers[entry.name];
    if (!read) fail(entry.nameSpan ?? entry.span, `unknown field '${entry.name}' in ${where}`, `accepted: ${Object.keys(readers).join(', ')}`);
    if (seen.has(entry.name)) fail(entry.nameSpan ?? entry.span, `'${entry.name}' is given twice in ${where}`, 'keep one');
    seen.add(entry.name);
    read(entry);
  }
}

function readLevel(node: MessageNode, into: ProfileSettings, where: string, profiles: Map<string, ProfileSettings> | null): void {
  const readers: Record<string, (entry: FieldEntry) => void> = {
    image: (e) => (into.image = scalar(one(e, 'image'), e.span, 'string', 'image')),
    network: (e) => {
      const v = one(e, 'network');
      const text = scalar(v, e.span, 'string', 'network');
      if (!(BOX_NETWORKS as readonly string[]).includes(text)) fail(spanOf(v, e), `network '${text}' is not one of ${BOX_NETWORKS.join(', ')}`, '"full" is the same as "internet"');
      into.network = text as BoxNetwork;
    },
    allow: (e) => (into.allow = stringList(e, 'allow')),
    publish: (e) => (into.publish = stringList(e, 'publish')),
    resources: (e) =>
      readFields(message(e, 'resources'), {
        memory: (m) => {
          const v = one(m, 'memory');
          const text = v.kind === 'json' && v.type === 'number' ? v.text : scalar(v, m.span, 'string', 'resources.memory');
          try {
            into.memoryBytes = parseSize(text);
          } catch (err) {
            fail(spanOf(v, m), `resources.memory: ${(err as Error).message}`, 'e.g. "2G" or "512M"');
          }
        },
        cpus: (m) => (into.cpus = positive(scalar(one(m, 'cpus'), m.span, 'number', 'resources.cpus'), m.span, 'resources.cpus', false)),
        pids: (m) => (into.pids = positive(scalar(one(m, 'pids'), m.span, 'number', 'resources.pids'), m.span, 'resources.pids', true)),
      }, 'resources'),
    mounts: (e) =>
      readFields(message(e, 'mounts'), {
        workspace_writable: (m) => (into.workspaceWritable = scalar(one(m, 'workspace_writable'), m.span, 'bool', 'mounts.workspace_writable') === 'true'),
        persist_caches: (m) => {
          into.persistCaches = stringList(m, 'mounts.persist_caches');
          const bad = into.persistCaches.find((c) => !(c in CACHE_DIRS));
          if (bad !== undefined) fail(m.span, `'${bad}' is not a cache jail knows`, `accepted: ${Object.keys(CACHE_DIRS).join(', ')}`);
        },
      }, 'mounts'),
    keep_alive: (e) => {
      const v = one(e, 'keep_alive');
      if (v.kind === 'json' && v.type === 'bool') into.idleSeconds = v.text === 'true' ? 0 : 300;
      else readFields(message(e, 'keep_alive'), { idle_seconds: (m) => (into.idleSeconds = positive(scalar(one(m, 'idle_seconds'), m.span, 'number', 'keep_alive.idle_seconds'), m.span, 'keep_alive.idle_seconds', true)) }, 'keep_alive');
    },
    persistent: (e) => (into.persistent = scalar(one(e, 'persistent'), e.span, 'bool', 'persistent') === 'true'),
    setup: (e) => (into.setup = scalar(one(e, 'setup'), e.span, 'string', 'setup')),
    seccomp_policy: (e) => (into.seccompPolicy = scalar(one(e, 'seccomp_policy'), e.span, 'string', 'seccomp_policy')),
    protect: (e) =>
      readFields(message(e, 'protect'), {
        read_only: (m) => (into.readOnly = checkedRelative(m, stringList(m, 'protect.read_only'))),
        hidden: (m) => (into.hidden = checkedRelative(m, stringList(m, 'protect.hidden'))),
      }, 'protect'),
  };
  if (profiles) {
    readers.profiles = (e) => {
      for (const p of message(e, 'profiles').fields) {
        if (profiles.has(p.name)) fail(p.nameSpan ?? p.span, `profile '${p.name}' is given twice`, 'keep one');
        const level: ProfileSettings = {};
        readLevel(message(p, `profile '${p.name}'`), level, `profile '${p.name}'`, null);
        profiles.set(p.name, level);
      }
    };
  }
  readFields(node, readers, where);
}

/** Paths under the workspace that `protect` names: relative, no '..'. */
function checkedRelative(entry: FieldEntry, list: string[]): string[] {
  for (const p of list) {
    if (p === '' || path.isAbsolute(p) || p.split('/').includes('..')) fail(entry.span, `protect: '${p}' is not a path inside the workspace`, "write it relative to the workspace, without '..' (e.g. \".git/hooks\")");
  }
  return list;
}

export function parseSettings(file: string, text: string): SettingsFile {
  const node = parseJsonSyntax(new SourceText(file, text));
  const defaults: ProfileSettings = {};
  const profiles = new Map<string, ProfileSettings>();
  readLevel(node, defaults, file, profiles);
  return { file, defaults, profiles };
}

/** The settings files that apply, user's first: ~/.config/jail/jail.json, then the project's jail.json. */
export function settingsFiles(projectDir: string | null, env: NodeJS.ProcessEnv = process.env): SettingsFile[] {
  const configHome = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  const candidates = [path.join(configHome, 'jail', 'jail.json')];
  if (projectDir !== null) candidates.push(path.join(projectDir, 'jail.json'));
  const out: SettingsFile[] = [];
  for (const file of candidates) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new JailError('config', `cannot read box settings ${file}: ${(e as Error).message}`, { hint: 'fix its permissions or remove it' });
    }
    out.push(parseSettings(file, text));
  }
  return out;
}

/** Defaults of every file, then `profile`'s overrides of every file; an unknown profile is an error. */
export function resolveProfile(files: SettingsFile[], profile: string | null): ProfileSettings {
  const merged: ProfileSettings = {};
  for (const f of files) Object.assign(merged, f.defaults);
  if (profile === null) return merged;
  const found = files.filter((f) => f.profiles.has(profile));
  if (found.length === 0) {
    const known = files.flatMap((f) => [...f.profiles.keys()]);
    throw new JailError('usage', `no profile '${profile}' in ${files.length === 0 ? 'any settings file (none found)' : files.map((f) => f.file).join(' or ')}`, {
      hint: known.length > 0 ? `known profiles: ${[...new Set(known)].join(', ')}` : 'define it under "profiles" in jail.json (README "Boxes")',
    });
  }
  for (const f of found) Object.assign(merged, f.profiles.get(profile));
  return merged;
}
