/**
 * The config stage (docs/architecture.md §1): sandbox.cfg text, its JSON form, nsjail's command-line
 * flags or a plain object -> LoadedConfig (a Config with every default applied, where each
 * value came from, and which fields were set). No kernel work.
 */
export { loadConfig, parseConfigText, parseConfigJson, configFromObject, defaultConfig } from './load';
export type { LoadOptions } from './load';
export type { FinishOptions } from './finish';
export type { IdFiles } from './idnames';
export { formatConfigText } from './format';
export { resolveCommand } from './command';
export type { ResolvedCommand } from './command';
export { effectiveMounts } from './mounts';
export { parseSize } from './size';
export { CAPABILITY_NAMES, capabilityNumber, capabilityName } from './caps';
export { defineJailFlags, configFromFlags, jailFlagNames } from './flags';
export type { FlagEvent, FlagRecorder, FlagOptions } from './flags';
export { renderFieldsHelp } from './help';
export type * from './types';
