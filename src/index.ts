/**
 * The library API of `jail` (DESIGN.md §1: the library is the product, the CLI a thin adapter).
 */
export { JailError, formatError } from './errors';
export type { JailErrorCode, SourceSpan } from './errors';
export type { Config, LoadedConfig } from './config/types';
export type { Filter, SockFilter, SeccompData } from './policy/types';
export type { JailPlan } from './sandbox/plan';
