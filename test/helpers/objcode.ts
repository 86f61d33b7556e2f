/**
 * The after-clone rule (docs/architecture.md §4) checked on object code: which machine code the cloned
 * child can run, read from `objdump -d` of a linked binary.
 *
 * The source cannot answer that question: the compiler turns loops into strlen/memset calls,
 * inserts stack-protector reads of thread-local storage, and the dynamic linker puts a resolver
 * behind every PLT call. So the walker starts at the child's entry functions and follows every
 * direct branch that leaves a function (call, tail jmp, conditional jump into a `.cold` part) to
 * the function containing its target, and reports:
 *   - a branch to a PLT stub (libc, or a function of our own bound at run time);
 *   - any indirect call or jump: its target cannot be followed. The child library is built with
 *     -fno-jump-tables, so a switch is never an indirect jump and no heuristic has to tell a jump
 *     table from a tail call through a pointer (both are `jmp *%reg`). The one exception is the
 *     trampoline's call of the child function it was given (see `trampoline`);
 *   - any %fs:/%gs: operand: thread-local storage (errno, the stack-protector canary) belongs to
 *     the parent's thread;
 *   - a reached function that is not defined in the child library's object files.
 * x86_64 only: the instruction forms below are AT&T x86_64 syntax.
 */
import { execFileSync } from 'node:child_process';

export interface Insn {
  addr: number;
  text: string;
}

export interface Fn {
  /** Mangled symbol name, as nm prints it. */
  name: string;
  start: number;
  insns: Insn[];
}

function tool(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${cmd} is missing: the object-code check needs binutils (apt-get install binutils; CI gets it with build-essential)`);
    }
    throw e;
  }
}

/** Every symbol-labelled block of code in `file` (functions, PLT stubs), sorted by address. */
export function disassemble(file: string): Fn[] {
  const fns: Fn[] = [];
  let cur: Fn | null = null;
  for (const line of tool('objdump', ['-d', '-w', '--no-show-raw-insn', file]).split('\n')) {
    const head = /^([0-9a-f]+) <(.+)>:$/.exec(line);
    if (head) {
      cur = { name: head[2], start: parseInt(head[1], 16), insns: [] };
      fns.push(cur);
      continue;
    }
    const insn = /^\s+([0-9a-f]+):\t(.*)$/.exec(line);
    if (insn && cur) cur.insns.push({ addr: parseInt(insn[1], 16), text: insn[2].trim() });
  }
  return fns.sort((a, b) => a.start - b.start);
}

export interface ObjectSymbols {
  /** Function symbol -> how many definitions the objects hold (local ones included). */
  functions: Map<string, number>;
  /** Every defined symbol, with nm's type letter. */
  defined: Array<{ name: string; type: string }>;
  /** Symbols the objects use but do not define. */
  undefined: Set<string>;
}

export function objectSymbols(objects: string[]): ObjectSymbols {
  const out: ObjectSymbols = { functions: new Map(), defined: [], undefined: new Set() };
  for (const line of tool('nm', objects).split('\n')) {
    const def = /^[0-9a-f]+ (\S) (\S+)$/.exec(line);
    if (def) {
      out.defined.push({ name: def[2], type: def[1] });
      if ('tTwW'.includes(def[1])) out.functions.set(def[2], (out.functions.get(def[2]) ?? 0) + 1);
    }
    const undef = /^\s+[Uw] (\S+)$/.exec(line);
    if (undef) out.undefined.add(undef[1]);
  }
  for (const d of out.defined) out.undefined.delete(d.name);
  return out;
}

/** Whether the dynamic section asks for immediate binding (DT_FLAGS BIND_NOW or DT_FLAGS_1 NOW). */
export function bindsNow(file: string): boolean {
  return /\(FLAGS\)\s+.*\bBIND_NOW\b|\(FLAGS_1\)\s+Flags:.*\bNOW\b/.test(tool('readelf', ['-d', file]));
}

/** The lines with every mangled name in them demangled, for messages. */
export function demangle(lines: string[]): string[] {
  return lines.length === 0 ? [] : tool('c++filt', [], lines.join('\n')).trimEnd().split('\n');
}

export interface WalkOptions {
  /** Where the child starts. Each must be defined in the binary; being an entry, it may live outside the library. */
  roots: string[];
  /** The child library: function symbol -> number of definitions in its object files. */
  library: Map<string, number>;
  /** The clone trampoline: its first indirect call is the call of the child function it was handed (one of the roots); any other is reported. */
  trampoline?: string;
}

export interface WalkResult {
  reached: Fn[];
  problems: string[];
}

const DIRECT = /^(?:bnd\s+)?(?:call|jmp|j[a-z]{1,3}|loop\w*|jrcxz|jecxz)q?\s+([0-9a-f]+) <([^>]+)>/;
const INDIRECT = /^(?:(?:notrack|bnd)\s+)*(call|jmp)q?\s+\*/;
const TLS = /%[fg]s:/;

export function walkChild(fns: Fn[], opts: WalkOptions): WalkResult {
  const problems: string[] = [];
  const inBinary = new Map<string, number>();
  for (const f of fns) inBinary.set(f.name, (inBinary.get(f.name) ?? 0) + 1);
  const containing = (addr: number): Fn | undefined => {
    let lo = 0;
    let hi = fns.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (fns[mid].start <= addr) lo = mid;
      else hi = mid - 1;
    }
    const f = fns[lo];
    const last = f?.insns[f.insns.length - 1];
    return f && f.start <= addr && last !== undefined && addr <= last.addr ? f : undefined;
  };

  const seen = new Set<Fn>();
  const queue: Fn[] = [];
  const visit = (f: Fn) => {
    if (seen.has(f)) return;
    seen.add(f);
    queue.push(f);
  };
  for (const r of opts.roots) {
    const found = fns.filter((f) => f.name === r);
    if (found.length === 0) problems.push(`entry ${r} is not defined in the binary`);
    for (const f of found) visit(f);
  }
  const roots = new Set(opts.roots);
  let trampolineCalled = false;
  while (queue.length > 0) {
    const fn = queue.shift()!;
    const where = (i: Insn) => `${fn.name}+0x${(i.addr - fn.start).toString(16)}`;
    if (!roots.has(fn.name)) {
      const lib = opts.library.get(fn.name) ?? 0;
      if (lib === 0) problems.push(`${fn.name}: reached, but not defined in the child library`);
      // Local functions of other files can share the name (anonymous namespaces mangle alike).
      else if ((inBinary.get(fn.name) ?? 0) > lib) problems.push(`${fn.name}: defined outside the child library too, cannot tell which copy is reached`);
    }
    for (const i of fn.insns) {
      if (TLS.test(i.text)) problems.push(`${where(i)}: thread-local storage access: ${i.text}`);
      const ind = INDIRECT.exec(i.text);
      if (ind) {
        if (fn.name === opts.trampoline && ind[1] === 'call' && !trampolineCalled) trampolineCalled = true;
        else problems.push(`${where(i)}: indirect ${ind[1]}: ${i.text}`);
        continue;
      }
      const d = DIRECT.exec(i.text);
      if (!d) continue;
      if (/@plt(\+|$)/.test(d[2])) {
        problems.push(`${where(i)}: through the PLT: ${i.text}`);
        continue;
      }
      const target = containing(parseInt(d[1], 16));
      if (target === undefined) problems.push(`${where(i)}: branch outside any function: ${i.text}`);
      else if (target !== fn) visit(target);
    }
  }
  return { reached: [...seen], problems };
}
