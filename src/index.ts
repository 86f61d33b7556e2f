/**
 * The library API of `jail` (docs/architecture.md §1: the library is the product, the CLI a thin adapter).
 *
 *   import { run } from 'jail';
 *   const r = await run({ command: ['/bin/echo', 'hi'], config: { mount: [{ src: '/', dst: '/', is_bind: true }] } });
 */
export { JailError, formatError } from './errors';
export type { JailErrorCode, SourceSpan } from './errors';
export { EXIT_BAD_INPUT, EXIT_OOM, EXIT_SECCOMP, EXIT_SETUP_FAILED, EXIT_TIMEOUT } from './exit-codes';

export { loadConfig, configFromObject, parseConfigText, parseConfigJson, defaultConfig } from './config/load';
export type { Config, LoadedConfig, MountPt, IdMap, Exe, NetPreset } from './config/types';
export { NET_PRESETS } from './config/types';
export type { NetEvent } from './net/events';

export { compilePolicy, compilePolicyFile, evaluate, actionName, disassemble, syscallName, syscallNumber } from './policy';
export type { ArchName, Filter, SockFilter, SeccompData } from './policy/types';

export { buildPlan } from './sandbox';
export type { PlannedJail, PlanOptions } from './sandbox';
export type { JailPlan, MountOp } from './sandbox/plan';
export type { CgroupPlan } from './cgroup/plan';

export { run, planJail, resolveConfig, compileConfigPolicy, POLICY_DIR } from './run';
export { doctor, formatDoctorReport, type DoctorCheck, type DoctorReport } from './doctor';
export type { RunOptions, RunResult, StartedJail, ConfigInput } from './run';
export { listen } from './modes/listen';
export type { ListenOptions, Listener } from './modes/listen';
export { rerun } from './modes/rerun';
export type { RerunOptions, RerunResult } from './modes/rerun';
export { serve } from './serve';
export type { ServeOptions, Server } from './serve';
export type { ExitReport, Outcome, SetupError, SeccompViolation } from './supervisor/report';
export type { LogEvent, LogLevel } from './supervisor/log';
export type { JailEvent, SyscallEvent, NotificationSummary } from './supervisor/events';
export * as box from './box';
export { buildImage, importImage, listImages, removeImage, imageRoot } from './box/images';
export type { ImageInfo, ImageSource, ImageStoreOptions, BuildOptions, ImportOptions } from './box/images';
export type { ImageRunConfig } from './box/oci';
