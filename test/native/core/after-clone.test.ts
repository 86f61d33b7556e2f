/**
 * The after-clone rule (DESIGN.md §3.3, §3.7), checked on the source: the files that define the
 * child-side functions declared in native/child.h may call only the raw-syscall wrappers of
 * native/sys.h and their own functions. The file list is derived from child.h, so a new child
 * step in a new file is scanned without touching this test. Needs no addon build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredFunctions, scanChildSide, tokenize, type ScannedFile, type Violation } from '../../helpers/cxx-scan';

const NATIVE = join(__dirname, '..', '..', '..', 'native');
const read = (name: string): ScannedFile => tokenize(name, readFileSync(join(NATIVE, name), 'utf8'));
const show = (v: Violation[]) => v.map((x) => `${x.file}:${x.line}: ${x.what}`);

/** The child-side file set: every native file defining a function child.h declares, plus the project headers they include. */
function childSide(): { files: ScannedFile[]; declared: string[]; definedIn: Map<string, string[]> } {
  const declared = declaredFunctions(read('child.h'));
  const definedIn = new Map<string, string[]>(declared.map((d) => [d, []]));
  const sources: ScannedFile[] = [];
  for (const name of readdirSync(NATIVE).filter((n) => n.endsWith('.cc')).sort()) {
    const f = read(name);
    const { defined } = scanChildSide([f]);
    const mine = declared.filter((d) => defined.has(d));
    for (const d of mine) definedIn.get(d)!.push(name);
    if (mine.length > 0) sources.push(f);
  }
  const files = [...sources];
  const queue = [...sources];
  while (queue.length > 0) {
    const f = queue.shift()!;
    for (const inc of f.includes) {
      if (!inc.startsWith('"')) continue;
      const name = inc.slice(1, -1);
      if (files.some((x) => x.file === name)) continue;
      const h = read(name);
      files.push(h);
      queue.push(h);
    }
  }
  return { files, declared, definedIn };
}

describe('child-side native code calls only raw syscalls (DESIGN.md §3)', () => {
  const { files, declared, definedIn } = childSide();

  it('child.h declares the child steps, each defined in exactly one file', () => {
    expect(declared).toEqual(expect.arrayContaining(['ChildMain', 'ChildFail', 'ChildApplyMounts', 'ChildSetRlimits', 'ChildDropCaps', 'ChildInstallSeccomp']));
    for (const [name, where] of definedIn) expect({ name, where: where.length }).toEqual({ name, where: 1 });
  });

  it('the scanned set covers at least the known child-side files and the headers they use', () => {
    expect(files.map((f) => f.file)).toEqual(expect.arrayContaining(['child.cc', 'mount.cc', 'caps.cc', 'rlimit.cc', 'seccomp.cc', 'sys.h', 'child.h', 'spec.h']));
    // launch.cc calls ChildMain but is the parent's file: it must not define child steps.
    expect(files.map((f) => f.file)).not.toContain('launch.cc');
  });

  it('has no forbidden call, identifier or include', () => {
    expect(show(scanChildSide(files).violations)).toEqual([]);
  });

  it('every other file enters the child only right after a clone returned 0, or through a trampoline that only calls ChildMain', () => {
    let sites = 0;
    for (const name of readdirSync(NATIVE).filter((n) => /\.(cc|h)$/.test(n))) {
      if (files.some((f) => f.file === name)) continue;
      const tk = read(name).tokens;
      tk.forEach((t, i) => {
        if (t.text !== 'ChildMain' || tk[i + 1]?.text !== '(') return;
        sites++;
        // A fork-like clone: `if (pid == 0) ChildMain(...)`, nothing else before it.
        const before = tk.slice(i - 6, i).map((x) => x.text).join(' ');
        if (/^if \( \w+ == 0 \)$/.test(before)) return;
        // A CLONE_VM entry point: `void Entry(void* p) { ChildMain(...); }` whose whole body runs in the child.
        let open = i;
        let depth = 0;
        for (; open >= 0; open--) {
          if (tk[open].text === '}') depth++;
          else if (tk[open].text === '{' && depth-- === 0) break;
        }
        let close = open;
        depth = 0;
        for (; close < tk.length; close++) {
          if (tk[close].text === '{') depth++;
          else if (tk[close].text === '}' && --depth === 0) break;
        }
        const body = tk.slice(open, close + 1);
        expect({ file: name, line: t.line, first: body[1]?.text }).toEqual({ file: name, line: t.line, first: 'ChildMain' });
        const trampoline: ScannedFile = { file: `${name} (child entry)`, tokens: [...tk.slice(open - 6, open), ...body], includes: [] };
        expect(show(scanChildSide([trampoline, ...files]).violations)).toEqual([]);
      });
    }
    expect(sites).toBeGreaterThan(0);
  });
});

describe('the scanner itself', () => {
  const SYS_H = read('sys.h');
  const scan = (src: string) => show(scanChildSide([tokenize('bad.cc', src), SYS_H]).violations);

  it('accepts code made of Sys() calls and its own helpers; ignores comments and literals', () => {
    const good = `
      #include "sys.h"
      #include <fcntl.h>
      namespace jail {
      namespace {
      struct Rec { int a; int b; };
      // printf("x") and malloc(3) in a comment are fine
      int Helper(const char* p, unsigned int mode) {
        /* std::string s = strerror(errno); */
        char buf[64];
        Rec r = {1, 2};
        (void)r;
        const char* lit = "free(buf); throw; getenv(\\"HOME\\")";
        (void)lit;
        long fd = Sys(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC, mode);
        if (fd < 0) return SysErr(fd);
        for (size_t i = 0; i < sizeof(buf) && i < 3; i++) buf[i] = (char)uint32_t(i);
        static constexpr int kX = 3;
        return kX > (int)buf[0] ? 0 : SysErr(Sys(SYS_close, fd));
      }
      }  // namespace
      [[noreturn]] void ChildThing(const char* p) {
        int err = Helper(p, 0644);
        if (err) SysExit(255);
        jail::SysExit(0);
      }
      }  // namespace jail
    `;
    expect(scan(good)).toEqual([]);
  });

  it('catches each forbidden thing', () => {
    const bad = `
      #include "sys.h"
      #include <string>
      #include <stdio.h>
      namespace jail {
      void ChildBad(const char* p) {
        char* m = (char*)malloc(10);
        int* q = new int(3);
        printf("%s", p);
        const char* e = strerror(errno);
        std::string s(p);
        int fd = open(p, 0);
        syscall(SYS_getpid);
        write(1, "x", 1);
        if (fd < 0) throw 1;
        s.push_back('x');
        auto f = [](int x) { return x; };
        static int counter = Init();
        getenv("HOME");
        exit(1);
      }
      }  // namespace jail
    `;
    const found = scan(bad).join('\n');
    for (const what of [
      '#include <string>', '#include <stdio.h>', 'malloc: allocation', 'new: allocation', 'printf: stdio', 'strerror:', 'errno:',
      'std:', 'string:', 'call of open()', 'syscall:', 'call of write()', 'throw: exceptions', 'member call .push_back()',
      'lambda', 'function-local static', 'call of Init()', 'getenv:', 'exit:',
    ]) {
      expect(found).toContain(what);
    }
    // Each report carries its line.
    expect(found).toMatch(/^bad\.cc:7: malloc: allocation/m);
  });

  it('a helper is allowed only if it is defined in the scanned set, and then it is scanned too', () => {
    const src = `
      namespace jail {
      int Outside(int);
      int Inner() { return Outside(1); }
      int Leaky() { return (int)(long)calloc(1, 1); }
      void ChildX() { Inner(); Leaky(); }
      }
    `;
    const found = scan(src);
    expect(found.some((v) => v.includes('call of Outside()'))).toBe(true);
    expect(found.some((v) => v.includes('calloc: allocation'))).toBe(true);
    expect(found.some((v) => v.includes('Inner') || v.includes('Leaky'))).toBe(false);
  });

  it('namespace-scope mutable variables are reported (with CLONE_VM the child shares the memory); constants are not', () => {
    const found = scan(`
      namespace jail {
      int counter = 0;
      static char buffer[64];
      const char* name = "x";
      constexpr int kMax = 3;
      const int kMin = 1;
      static const char kText[] = "t";
      struct Forward;
      extern int elsewhere;
      int Declared(int);
      using Alias = int;
      struct Rec { int a; };
      Rec table[2] = {{1}, {2}};
      void ChildZ() { Sys(SYS_getpid); }
      }`);
    const vars = found.filter((v) => v.includes('namespace-scope variable')).map((v) => v.split('variable ')[1].split(' ')[0]);
    expect(vars).toEqual(['counter', 'buffer', 'name', 'table']);
  });

  it('qualified and templated calls are checked too', () => {
    const found = scan(`namespace jail { void ChildY() { ::close(3); other::Thing(); Make<int>(2); static_cast<int>(3); jail::Sys(SYS_getpid); } }`);
    expect(found.some((v) => v.includes('call of ::close()'))).toBe(true);
    expect(found.some((v) => v.includes('call of other::Thing()'))).toBe(true);
    expect(found.some((v) => v.includes('call of Make<...>()'))).toBe(true);
    expect(found.some((v) => v.includes('static_cast') || v.includes('Sys('))).toBe(false);
  });
});
