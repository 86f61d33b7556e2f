/**
 * Syscall lookups over the generated tables (src/policy/tables, made by
 * tools/gen-syscall-tables.mjs): kafel's names, numbers and argument names/sizes per arch.
 */
import type { ArchName } from './types';
import * as x86_64 from './tables/x86_64';
import * as aarch64 from './tables/aarch64';

export interface SyscallArg {
  name: string;
  /** Kafel's width in bytes: 8 compares both halves, 4 and 2 only the low half. */
  size: number;
}

export interface SyscallInfo {
  name: string;
  nr: number;
  args: SyscallArg[];
}

interface ArchTable {
  byName: Map<string, SyscallInfo>;
  byNr: Map<number, SyscallInfo>;
  uapiAliases: Readonly<Record<string, string>>;
}

const sources = { x86_64, aarch64 } as const;
const cache = new Map<ArchName, ArchTable>();

/** Parsed lazily: most programs only ever need the host's table. */
function table(arch: ArchName): ArchTable {
  let t = cache.get(arch);
  if (t) return t;
  const src = sources[arch];
  t = { byName: new Map(), byNr: new Map(), uapiAliases: src.uapiAliases };
  for (const [name, nr, argText] of src.rows) {
    const args = argText === '' ? [] : argText.split(' ').map((a) => {
      const [n, s] = a.split(':');
      return { name: n, size: Number(s) };
    });
    const info = { name, nr, args };
    t.byName.set(name, info);
    if (!t.byNr.has(nr)) t.byNr.set(nr, info);
  }
  cache.set(arch, t);
  return t;
}

export function lookupSyscall(arch: ArchName, name: string): SyscallInfo | undefined {
  return table(arch).byName.get(name);
}

/** Kafel's name of syscall `nr` on `arch`, or undefined for a number the table does not have. */
export function syscallName(arch: ArchName, nr: number): string | undefined {
  return table(arch).byNr.get(nr >>> 0)?.name;
}

export function syscallNumber(arch: ArchName, name: string): number | undefined {
  return table(arch).byName.get(name)?.nr;
}

export function syscallNames(arch: ArchName): string[] {
  return [...table(arch).byName.keys()];
}

/** The name to suggest for an unknown syscall: kafel's spelling of a UAPI name, else the closest by edit distance. */
export function suggestSyscall(arch: ArchName, name: string): string | undefined {
  const t = table(arch);
  const alias = t.uapiAliases[name];
  if (alias !== undefined) return alias;
  let best: string | undefined;
  let bestDist = Infinity;
  for (const candidate of t.byName.keys()) {
    const d = editDistance(name, candidate);
    if (d < bestDist) {
      best = candidate;
      bestDist = d;
    }
  }
  // A suggestion that changes more than about a third of the name is noise.
  return bestDist <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
