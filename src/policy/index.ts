/**
 * The policy stage: kafel source → Filter (classic BPF for seccomp), plus the interpreter,
 * disassembler and syscall lookups the CLI and the supervisor use.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { JailError } from '../errors';
import { RET } from './actions';
import { ARCH_ORDER, hostArch, isArchName } from './arch';
import { generate } from './codegen';
import type { IncludeReader } from './lexer';
import { parsePolicy } from './parser';
import { resolve } from './resolve';
import type { ArchName, Filter } from './types';

export { actionName, RET } from './actions';
export { archFromAudit, auditFromName, hostArch, AUDIT_ARCH } from './arch';
export { disassemble, rawListing } from './disassemble';
export { evaluate, run, checkFilter } from './interpreter';
export { syscallName, syscallNumber } from './syscalls';
export { stackForListener, unotifyPolicySource, UNOTIFY_SYSCALLS, type StackedFilters } from './unotify';
export type { ArchName, Filter, SeccompData, SockFilter } from './types';

export interface CompileOptions {
  /** Target architectures (default: the host's). */
  archs?: ArchName[];
  /** Directories `#include` searches, in order (never the including file's directory). */
  includePaths?: string[];
  /** Name used in error messages (default `<policy>`). */
  file?: string;
  /** Ask the loader to log every non-ALLOW action (SECCOMP_FILTER_FLAG_LOG). */
  log?: boolean;
}

function includeReader(paths: readonly string[]): IncludeReader {
  return (name) => {
    for (const dir of paths) {
      const path = join(dir, name);
      try {
        if (statSync(path).isFile()) return { path, text: readFileSync(path, 'utf8') };
      } catch {
        // not in this directory: try the next one
      }
    }
    return undefined;
  };
}

function targetArchs(archs: ArchName[] | undefined): ArchName[] {
  if (archs === undefined) return [hostArch()];
  if (archs.length === 0) throw new JailError('usage', 'compilePolicy: archs must name at least one architecture');
  for (const a of archs) {
    if (!isArchName(a)) throw new JailError('usage', `compilePolicy: unknown architecture '${String(a)}'`, { hint: `accepted: ${ARCH_ORDER.join(', ')}` });
  }
  return ARCH_ORDER.filter((a) => archs.includes(a));
}

export function compilePolicy(source: string, options: CompileOptions = {}): Filter {
  const archs = targetArchs(options.archs);
  const program = parsePolicy(source, options.file ?? '<policy>', includeReader(options.includePaths ?? []));
  const defaultAction = program.defaultAction ?? RET.KILL_THREAD;
  const resolved = archs.map((arch) => resolve(program, arch, defaultAction));
  const { insns } = generate(resolved);
  const usesUserNotif = resolved.some((r) => r.candidates.some((c) => c.ret === RET.USER_NOTIF)) || defaultAction === RET.USER_NOTIF;
  const filter: Filter = { archs, insns, usesUserNotif };
  if (options.log) filter.log = true;
  return filter;
}

export function compilePolicyFile(path: string, options: Omit<CompileOptions, 'file'> = {}): Filter {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new JailError('policy', `cannot read policy file ${path}: ${code}`, { cause: e });
  }
  return compilePolicy(text, { ...options, file: path });
}
