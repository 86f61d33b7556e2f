/**
 * The after-clone rule (docs/architecture.md §4), checked on the built object code: every instruction the
 * cloned child can reach, from its entry points to execve, is a raw syscall or code of the child
 * library (binding.gyp target jail_child) — no PLT call, no libc, no indirect call, no
 * thread-local storage. The compiler and the dynamic linker insert calls the source does not
 * show (a loop becomes strlen@plt, a call of our own goes through the lazy resolver on the
 * parent thread's TLS), so the source is not where this can be checked. test/helpers/objcode.ts
 * says how the walk works. Needs the built addon and binutils.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../helpers/native';
import { bindsNow, demangle, disassemble, objectSymbols, walkChild, type Fn, type ObjectSymbols } from '../../helpers/objcode';

const RELEASE = join(REPO, 'build', 'Release');
const LIBRARY_OBJECTS = join(RELEASE, 'obj.target', 'jail_child');
const BINARIES = ['jail_native.node', 'jail_exec'];
const CHILD_MAIN = '_ZN4jail9ChildMainERKNS_9ChildSpecE';
/** The CLONE_VM trampoline (native/clone.cc): its child branch calls the fn it was given, a ChildEntry. */
const TRAMPOLINE = 'JailCloneVmRun';
/** `ChildEntry(void*)`, in whichever namespace and file it is defined. */
const CHILD_ENTRY = /10ChildEntryEPv$/;

/** The compile flags of a binding.gyp target (gyp files are JSON with # comment lines). */
function gypCflags(target: string): string[] {
  const gyp = JSON.parse(readFileSync(join(REPO, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, ''));
  return gyp.targets.find((t: { target_name: string }) => t.target_name === target).cflags_cc;
}

function objectsUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.o')).map((f) => join(dir, f));
}

describe('the cloned child runs only child-library code and raw syscalls (docs/architecture.md §4)', () => {
  let library: ObjectSymbols;
  const code = new Map<string, Fn[]>();

  beforeAll(() => {
    if (process.arch !== 'x64') throw new Error(`the object-code walker reads x86_64 code only; teach test/helpers/objcode.ts the branch and TLS forms of ${process.arch}`);
    for (const b of [...BINARIES, 'obj.target/jail_child']) {
      if (!existsSync(join(RELEASE, b))) throw new Error(`${join(RELEASE, b)} does not exist: run \`npm run build:native\` first`);
    }
    library = objectSymbols(objectsUnder(LIBRARY_OBJECTS));
    for (const b of BINARIES) code.set(b, disassemble(join(RELEASE, b)));
  });

  it('the child library uses nothing it does not define (no libc, no variable of the parent files) and has no writable data', () => {
    expect(library.functions.has(CHILD_MAIN)).toBe(true);
    expect(library.functions.has(TRAMPOLINE)).toBe(true);
    expect(demangle([...library.undefined])).toEqual([]);
    // With CLONE_VM a global written by the child is the parent's; read-only data (r) is fine.
    const writable = library.defined.filter((d) => /[bBdDgGsSvVuC]/.test(d.type)).map((d) => `${d.type} ${d.name}`);
    expect(writable).toEqual([]);
  });

  it.each(BINARIES)('%s binds every symbol at load time (no lazy resolver ever runs)', (b) => {
    expect(bindsNow(join(RELEASE, b))).toBe(true);
  });

  it.each(BINARIES)('%s: everything reachable from the child entries is child-library code, with no PLT call, indirect branch or TLS access', (b) => {
    const fns = code.get(b)!;
    const entries = fns.filter((f) => CHILD_ENTRY.test(f.name)).map((f) => f.name);
    expect(entries, 'ChildEntry(void*), the function the parent hands to CloneVm, is defined').not.toEqual([]);
    const { reached, problems } = walkChild(fns, { roots: [CHILD_MAIN, TRAMPOLINE, ...entries], library: library.functions, trampoline: TRAMPOLINE });
    console.log(`${b}: ${reached.length} functions reachable from the child entries:\n  ${demangle(reached.map((f) => f.name)).join('\n  ')}`);
    expect(demangle(problems)).toEqual([]);
    // ChildMain and the steps it calls at least; a collapsed walk would pass vacuously.
    expect(reached.length).toBeGreaterThanOrEqual(8);
  });

  it.each(BINARIES)('%s has no PLT entry for a child-library function (so the fork-like path of Launch calls ChildMain directly too)', (b) => {
    const plt = code.get(b)!.filter((f) => f.name.endsWith('@plt') && library.functions.has(f.name.slice(0, -4)));
    expect(plt.map((f) => f.name)).toEqual([]);
  });
});

describe('the object-code walker itself', () => {
  let dir: string;
  let lazy: string;
  let strict: string;
  let library: Map<string, number>;

  // A strlen loop, a zeroing loop, a local array and a switch: with a distribution's default
  // flags GCC makes the loops strlen/memset calls, guards the array with a canary read from %fs
  // and jumps through a table for the switch.
  const LOOPS = `
    #include <stddef.h>
    __attribute__((noinline)) static size_t Length(const char* s) {
      size_t n = 0;
      while (s[n] != '\\0') n++;
      return n;
    }
    __attribute__((noinline)) static void Pick(size_t k, char* out) {
      switch (k) {
        case 0: out[0] = 1; break;
        case 1: out[3] = 7; break;
        case 2: out[1] = out[2]; break;
        case 3: out[5] = 2; out[6] = 1; break;
        case 4: out[9] = out[0]; break;
        case 5: out[4] = 0; break;
      }
    }
    extern "C" size_t Entry(const char* s, char* out, size_t n) {
      for (size_t i = 0; i < n; i++) out[i] = 0;
      Pick(n, out);
      char copy[64];
      size_t len = Length(s);
      size_t i = 0;
      for (; i + 1 < sizeof(copy) && i < len; i++) copy[i] = s[i];
      copy[i] = '\\0';
      return Length(copy);
    }`;
  const POINTER = `
    extern "C" int Other(int);
    extern "C" void CallThrice(void (*f)()) { f(); f(); f(); }
    extern "C" int CallsOther(int x) { return Other(x) + 1; }`;
  const OTHER = `extern "C" int Other(int x) { return x * 3; }`;

  beforeAll(() => {
    if (process.arch !== 'x64') throw new Error(`the object-code walker reads x86_64 code only (${process.arch})`);
    dir = mkdtempSync(join(tmpdir(), 'jail-objcode-'));
    const cxx = (name: string, src: string, flags: string[]) => {
      writeFileSync(join(dir, `${name}.cc`), src);
      execFileSync('g++', ['-c', '-O2', '-fPIC', ...flags, join(dir, `${name}.cc`), '-o', join(dir, `${name}.o`)]);
      return join(dir, `${name}.o`);
    };
    const child = gypCflags('jail_child');
    const loopsDefault = cxx('loops-default', LOOPS, ['-fstack-protector-strong']);
    const loopsChild = cxx('loops-child', LOOPS, child);
    const pointer = cxx('pointer', POINTER, child);
    const other = cxx('other', OTHER, ['-fvisibility=hidden']);
    lazy = join(dir, 'lazy.so');
    strict = join(dir, 'strict.so');
    execFileSync('g++', ['-shared', '-Wl,-z,lazy', loopsDefault, '-o', lazy]);
    execFileSync('g++', ['-shared', '-Wl,-z,now', loopsChild, pointer, other, '-o', strict]);
    // other.o stands for code outside the child library.
    library = objectSymbols([loopsChild, pointer]).functions;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('catches the calls, the TLS access and the jump table the compiler inserts with default flags', () => {
    const { problems } = walkChild(disassemble(lazy), { roots: ['Entry'], library: objectSymbols([join(dir, 'loops-default.o')]).functions });
    const found = problems.join('\n');
    expect(found).toMatch(/through the PLT: .*<strlen@plt>/);
    expect(found).toMatch(/through the PLT: .*<memset@plt>/);
    expect(found).toMatch(/thread-local storage access: .*%fs:/);
    expect(found).toMatch(/Pick.*: indirect jmp: jmp +\*%/);
    expect(bindsNow(lazy)).toBe(false);
  });

  it('accepts the same source built with the child library flags, following its call', () => {
    const { reached, problems } = walkChild(disassemble(strict), { roots: ['Entry'], library });
    expect(problems).toEqual([]);
    expect(demangle(reached.map((f) => f.name)).sort()).toEqual(['Entry', 'Length(char const*)', 'Pick(unsigned long, char*)']);
    expect(bindsNow(strict)).toBe(true);
  });

  it('catches a call and a tail call through a pointer; the trampoline may make one call only', () => {
    const fns = disassemble(strict);
    const found = walkChild(fns, { roots: ['CallThrice'], library }).problems.join('\n');
    expect(found).toMatch(/CallThrice\+0x[0-9a-f]+: indirect call: call +\*%/);
    expect(found).toMatch(/CallThrice\+0x[0-9a-f]+: indirect jmp: jmp +\*%/);
    // Two calls and a tail call: the first call is the trampoline's own.
    expect(walkChild(fns, { roots: ['CallThrice'], library, trampoline: 'CallThrice' }).problems).toEqual([
      expect.stringMatching(/indirect call/),
      expect.stringMatching(/indirect jmp/),
    ]);
  });

  it('catches a reachable function defined outside the library, and a missing entry', () => {
    const fns = disassemble(strict);
    expect(walkChild(fns, { roots: ['CallsOther'], library }).problems).toEqual(['Other: reached, but not defined in the child library']);
    expect(walkChild(fns, { roots: ['Nowhere'], library }).problems).toEqual(['entry Nowhere is not defined in the binary']);
  });
});
