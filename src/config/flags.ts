/**
 * nsjail's command-line flags, registered on a commander Command from the schema, and turned
 * into a LoadedConfig the way nsjail applies them: strictly left to right.
 *
 * Order matters because `--config FILE` loads the file at that point and replaces every config
 * field set by earlier flags (nsjail does CopyFrom of the whole proto), while flags after it
 * override the file. What nsjail keeps outside the proto survives a --config: --chroot, --rw,
 * --proc_path, --proc_rw, --execute_fd, and the uid/gid maps and pass_fd list, which
 * accumulate (flags and files append to the same list, in order). Logging is global state in
 * nsjail: -v/-q/-Q/-l/-L survive, and a file replaces them only if it sets them.
 *
 * commander emits `option:<name>` in argv order; the recorder keeps those raw events and
 * configFromFlags applies them, so every bad value is reported at once.
 */
import type { Command } from 'commander';
import { JailError } from '../errors';
import { finishConfig, type FinishOptions } from './finish';
import { BadFlagValue, parseChoice, parseFlagInt, parseRLimit } from './flag-values';
import { flagDescription } from './help';
import { readConfigFile } from './load';
import type { IntType } from './scalars';
import { defaultsOf, G, NSJAIL_CONFIG, type FieldDef, type FlagDef } from './schema';
import type { LoadedConfig, SpanMap } from './types';

export interface FlagEvent {
  /** Long flag name without dashes ("time_limit"). */
  flag: string;
  /** The argument as given; undefined for flags without one. */
  value?: string;
}

export interface FlagRecorder {
  /** The jail flags seen, in command-line order. */
  readonly events: FlagEvent[];
  clear(): void;
}

export interface FlagOptions extends FinishOptions {
  /** Directory that a relative --config path is resolved against. */
  cwd: string;
  /**
   * The caller's environment. Not needed here: bare `-E VAR` names stay bare in Config.envar
   * and are filled in when the jail starts.
   */
  env?: NodeJS.ProcessEnv;
}

type Special = 'config' | 'experimental_mnt';

interface FlagEntry {
  long: string;
  def: FlagDef;
  field?: FieldDef;
  special?: Special;
  group: string;
}

/** Flags that set no field; `first` places them before their group's field flags in --help. */
const SPECIAL_FLAGS: Array<{ def: FlagDef; special: Special; group: string; first: boolean }> = [
  {
    special: 'config',
    group: G.mode,
    first: true,
    def: {
      flags: '-C, --config <file>',
      apply: { kind: 'value' },
      help:
        'load a sandbox.cfg (protobuf text or JSON) here: it replaces what earlier flags set (except --chroot, --rw, ' +
        '-u/-g/-U/-G, --pass_fd, --proc_path, --proc_rw, --execute_fd and logging); later flags override it',
    },
  },
  {
    special: 'experimental_mnt',
    group: G.fs,
    first: false,
    def: {
      flags: '--experimental_mnt <new|old|auto>',
      apply: { kind: 'value' },
      help: "nsjail's choice of mount API; accepted for compatibility (jail builds the same mount tree either way)",
    },
  },
];

/** Fields a --config appends to instead of replacing (nsjail keeps them outside the proto). */
const ACCUMULATED = new Set(['uidmap', 'gidmap', 'pass_fd']);
/** Fields a --config replaces only when the file sets them (nsjail's global log settings). */
const LOGGING = new Set(['log_level', 'log_file', 'log_fd']);

const longOf = (flags: string): string => /--([A-Za-z0-9_-]+)/.exec(flags)![1];

let table: Map<string, FlagEntry> | undefined;

/** Every jail flag by long name, in help order (built on first use). */
function flagTable(): Map<string, FlagEntry> {
  if (table) return table;
  const entries: FlagEntry[] = [];
  for (const group of Object.values(G)) {
    const special = SPECIAL_FLAGS.filter((s) => s.group === group).map((s) => ({ long: longOf(s.def.flags), ...s }));
    entries.push(...special.filter((s) => s.first));
    for (const field of NSJAIL_CONFIG.fields) {
      if (field.group === group) entries.push(...field.flags.map((def) => ({ long: longOf(def.flags), def, field, group })));
    }
    entries.push(...special.filter((s) => !s.first));
  }
  return (table = new Map(entries.map((e) => [e.long, e])));
}

/** The long names of every flag jail accepts (test hook). */
export function jailFlagNames(): string[] {
  return [...flagTable().keys()];
}

/** Registers every jail flag on `cmd`, grouped as in nsjail's --help, and records their use. */
export function defineJailFlags(cmd: Command): FlagRecorder {
  const events: FlagEvent[] = [];
  for (const e of flagTable().values()) {
    const help = e.field ? flagDescription(e.field, e.def) : e.def.help!;
    const opt = cmd.createOption(e.def.flags, help).helpGroup(e.group);
    if (e.def.hidden) opt.hideHelp();
    cmd.addOption(opt);
    cmd.on(`option:${opt.name()}`, (value?: string) => events.push({ flag: e.long, value: value ?? undefined }));
  }
  return { events, clear: () => void (events.length = 0) };
}

const UNIT_WORDS: Record<string, string> = { s: 'seconds', ms: 'milliseconds', bytes: 'bytes' };

/** A flag argument read as the field's protobuf type. */
function parseFlagScalar(f: FieldDef, arg: string): unknown {
  if (f.type === 'string') return arg;
  const unit = f.unit ? ` of ${UNIT_WORDS[f.unit] ?? f.unit}` : '';
  const signed = f.type === 'int32' || f.type === 'int64';
  return parseFlagInt(f.type as IntType, arg, `a whole number${unit}${signed ? '' : ' (0 or more)'}`);
}

const top = (key: string): string => key.split('.', 1)[0];

class FlagState {
  readonly config: Record<string, unknown> = defaultsOf(NSJAIL_CONFIG);
  readonly set = new Set<string>();
  readonly spans: SpanMap = new Map();
  readonly flags = new Map<string, string>();
  readonly errors: JailError[] = [];

  constructor(private readonly opts: FlagOptions) {
    // The command line mounts /proc unless told otherwise; a config file's default is off.
    this.config.mountProc = true;
  }

  private forget(key: string): void {
    this.spans.delete(key);
    this.flags.delete(key);
  }

  /** Records that `key` (and, for a message value, each field given in it) came from `origin`. */
  private mark(key: string, f: FieldDef, value: unknown, origin: string, whole: boolean): void {
    this.set.add(key);
    if (whole) {
      this.forget(key);
      this.flags.set(key, origin);
    }
    if (f.type !== 'message') return;
    const sub = f.message!();
    for (const json of Object.keys(value as object)) {
      const k = `${key}.${sub.byJson(json)!.name}`;
      this.set.add(k);
      this.forget(k);
      this.flags.set(k, origin);
    }
  }

  setField(f: FieldDef, value: unknown, origin: string): void {
    if (f.repeated) {
      const list = this.config[f.json] as unknown[];
      const item = f.type === 'message' ? { ...defaultsOf(f.message!()), ...(value as object) } : value;
      if (!this.set.has(f.name)) {
        this.set.add(f.name);
        this.flags.set(f.name, origin);
      }
      this.mark(`${f.name}.${list.length}`, f, value, origin, true);
      list.push(item);
    } else if (f.type === 'message') {
      // -x on top of a file's exec_bin changes only the path; the rest still comes from the file.
      const current = this.config[f.json] as object | undefined;
      this.config[f.json] = { ...(current ?? defaultsOf(f.message!())), ...(value as object) };
      this.mark(f.name, f, value, origin, current === undefined);
    } else {
      this.config[f.json] = value;
      this.mark(f.name, f, value, origin, true);
    }
  }

  apply(e: FlagEntry, arg: string | undefined): void {
    const origin = `--${e.long}`;
    try {
      if (e.special === 'config') return this.loadFile(arg!);
      if (e.special === 'experimental_mnt') return void parseChoice(arg!, ['new', 'old', 'auto']);
      const f = e.field!;
      const how = e.def.apply;
      if (how.kind === 'rlimit') {
        const r = parseRLimit(arg!, f.unit ?? '', f.unitBytes ?? 0);
        this.setField(NSJAIL_CONFIG.byName(`${f.name}_type`)!, r.type, origin);
        if (r.value !== undefined) this.setField(f, r.value, origin);
      } else {
        const value = how.kind === 'set' ? how.value : how.kind === 'value' ? parseFlagScalar(f, arg!) : how.parse(arg!);
        const problem = f.check?.(value);
        if (problem) throw new BadFlagValue(problem);
        this.setField(f, value, origin);
      }
      for (const [name, v] of Object.entries(e.def.also ?? {})) this.setField(NSJAIL_CONFIG.byName(name)!, v, origin);
    } catch (err) {
      if (!(err instanceof BadFlagValue)) throw err;
      this.errors.push(new JailError('flag', `flag ${origin} ${JSON.stringify(arg)}: ${err.message}`));
    }
  }

  /** --config: the file replaces every config field except those nsjail keeps outside. */
  private loadFile(file: string): void {
    let loaded: LoadedConfig;
    try {
      loaded = readConfigFile(file, this.opts.cwd);
    } catch (err) {
      if (!(err instanceof JailError)) throw err;
      this.errors.push(...(err.errors.length ? err.errors : [err]));
      return;
    }
    const replaced = new Set<string>();
    const offsets = new Map<string, number>();
    for (const f of NSJAIL_CONFIG.fields) {
      if (f.outside) continue;
      if (ACCUMULATED.has(f.name)) {
        const list = this.config[f.json] as unknown[];
        offsets.set(f.name, list.length);
        list.push(...(loaded.config[f.json as keyof typeof loaded.config] as unknown[]));
      } else if (!LOGGING.has(f.name) || loaded.setFields.has(f.name)) {
        replaced.add(f.name);
        this.config[f.json] = loaded.config[f.json as keyof typeof loaded.config];
      }
    }
    for (const key of [...this.set]) if (replaced.has(top(key))) this.set.delete(key);
    for (const key of [...this.spans.keys()]) if (replaced.has(top(key))) this.spans.delete(key);
    for (const key of [...this.flags.keys()]) if (replaced.has(top(key))) this.flags.delete(key);
    // Entries of accumulated lists move up by the number of entries flags added before.
    const rekey = (key: string): string | undefined => {
      const t = top(key);
      if (replaced.has(t)) return key;
      const offset = offsets.get(t);
      if (offset === undefined) return undefined;
      const parts = key.split('.');
      if (parts.length > 1) parts[1] = String(Number(parts[1]) + offset);
      return parts.join('.');
    };
    for (const key of loaded.setFields) {
      const k = rekey(key);
      if (k !== undefined) this.set.add(k);
    }
    for (const [key, span] of loaded.spans) {
      const k = rekey(key);
      // An accumulated list that flags started keeps pointing at the first flag.
      if (k !== undefined && !this.flags.has(k)) this.spans.set(k, span);
    }
  }

  result(): LoadedConfig {
    return {
      config: this.config as unknown as LoadedConfig['config'],
      spans: this.spans,
      setFields: this.set,
      flags: this.flags,
    };
  }
}

/**
 * Applies recorded flag events left to right and nsjail's post-parse rules. Throws one
 * JailError carrying every problem: bad values ('flag'), and errors of loaded files ('config').
 */
export function configFromFlags(events: readonly FlagEvent[], opts: FlagOptions): LoadedConfig {
  const flags = flagTable();
  const state = new FlagState(opts);
  for (const ev of events) {
    const e = flags.get(ev.flag);
    if (!e) throw new JailError('internal', `flag --${ev.flag} was recorded but is not a jail flag`);
    state.apply(e, ev.value);
  }
  JailError.throwAll(state.errors);
  return finishConfig(state.result(), opts);
}
