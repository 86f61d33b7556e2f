/**
 * A small C++ scanner for the after-clone rule (DESIGN.md §3): code that runs in the cloned
 * child of a multi-threaded process may call only the raw-syscall wrappers of native/sys.h
 * (Sys, SysErr, SysExit) and functions defined in the scanned child-side files themselves —
 * no libc, no allocation, no exceptions, no std::, no errno.
 *
 * It is a tokenizer, not a compiler: comments, string/char literals and preprocessor lines are
 * removed, braces are matched to tell function bodies from namespaces, structs and
 * initializers, and every call (an identifier followed by "(") inside a function body is checked
 * against the allow-list. It errs on the strict side: a construct it cannot prove harmless
 * (a member call, a lambda, a function-local static with an initializer) is reported.
 */

export interface Violation {
  file: string;
  line: number;
  what: string;
}

export interface Token {
  text: string;
  line: number;
  kind: 'id' | 'num' | 'punct';
}

export interface ScannedFile {
  file: string;
  tokens: Token[];
  /** `#include` targets, as written ("sys.h", <string>). */
  includes: string[];
}

const PUNCT = ['::', '->', '...', '<<=', '>>=', '<=>', '&&', '||', '==', '!=', '<=', '>=', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<', '>>'];

/** Tokens of C++ source, without comments, literals (each becomes one "<lit>" token) and preprocessor lines. */
export function tokenize(file: string, src: string): ScannedFile {
  const tokens: Token[] = [];
  const includes: string[] = [];
  let i = 0;
  let line = 1;
  let atLineStart = true;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    if (c === '\n') {
      line++;
      i++;
      atLineStart = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) if (src[k] === '\n') line++;
      i = stop;
      continue;
    }
    if (c === '#' && atLineStart) {
      // A preprocessor directive, with backslash continuations.
      let text = '';
      while (i < n && src[i] !== '\n') {
        if (src[i] === '\\' && src[i + 1] === '\n') {
          i += 2;
          line++;
          continue;
        }
        text += src[i++];
      }
      const inc = /^#\s*include\s*([<"][^>"]+[>"])/.exec(text);
      if (inc) includes.push(inc[1]);
      continue;
    }
    atLineStart = false;
    // Raw string literal R"delim( ... )delim" (with an optional encoding prefix).
    const raw = /^(?:u8|u|U|L)?R"([^(\s]{0,16})\(/.exec(src.slice(i, i + 24));
    if (raw) {
      const close = ')' + raw[1] + '"';
      const end = src.indexOf(close, i + raw[0].length);
      const stop = end < 0 ? n : end + close.length;
      for (let k = i; k < stop; k++) if (src[k] === '\n') line++;
      tokens.push({ text: '<lit>', line, kind: 'punct' });
      i = stop;
      continue;
    }
    if (c === '"' || c === "'" || (/[uUL]/.test(c) && /^(?:u8|u|U|L)["']/.test(src.slice(i, i + 3)))) {
      let k = i;
      while (src[k] !== '"' && src[k] !== "'") k++;
      const quote = src[k++];
      while (k < n && src[k] !== quote) {
        if (src[k] === '\\') k++;
        else if (src[k] === '\n') break;
        k++;
      }
      tokens.push({ text: '<lit>', line, kind: 'punct' });
      i = k + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let k = i + 1;
      while (k < n && /\w/.test(src[k])) k++;
      tokens.push({ text: src.slice(i, k), line, kind: 'id' });
      i = k;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      // pp-number: digits, letters, dots, digit separators, exponents with signs.
      let k = i + 1;
      while (k < n && (/[\w.']/.test(src[k]) || ((src[k] === '+' || src[k] === '-') && /[eEpP]/.test(src[k - 1])))) k++;
      tokens.push({ text: src.slice(i, k), line, kind: 'num' });
      i = k;
      continue;
    }
    const p = PUNCT.find((x) => src.startsWith(x, i)) ?? c;
    tokens.push({ text: p, line, kind: 'punct' });
    i += p.length;
  }
  return { file, tokens, includes };
}

type Scope = 'namespace' | 'struct' | 'function' | 'block' | 'init';

const CONTROL = new Set(['if', 'while', 'for', 'switch', 'return', 'sizeof', 'alignof', 'alignas', 'decltype', 'static_assert', 'noexcept', '__attribute__', 'defined', 'typeid']);
const CASTS = new Set(['static_cast', 'reinterpret_cast', 'const_cast', 'dynamic_cast']);
/** Type names used as functional casts ("uint32_t(x)"). */
const TYPES = new Set([
  'char', 'short', 'int', 'long', 'unsigned', 'signed', 'bool', 'float', 'double', 'void',
  'int8_t', 'int16_t', 'int32_t', 'int64_t', 'uint8_t', 'uint16_t', 'uint32_t', 'uint64_t', 'size_t', 'ssize_t', 'uintptr_t', 'intptr_t',
  'pid_t', 'uid_t', 'gid_t', 'off_t', 'mode_t', 'socklen_t',
]);
/** Compiler builtins that never call into libc. */
const BUILTINS = new Set(['__builtin_expect', '__builtin_unreachable', '__builtin_trap', '__builtin_offsetof', 'offsetof', '__asm__', 'asm', '__volatile__', 'volatile']);

/** Identifiers that must not appear at all in child-side code, with the reason. */
export const FORBIDDEN: Record<string, string> = {
  errno: 'errno is thread-local libc state (use the negative return of Sys())',
  malloc: 'allocation', calloc: 'allocation', realloc: 'allocation', free: 'allocation', new: 'allocation', delete: 'allocation',
  alloca: 'allocation', mmap: 'use Sys(SYS_mmap, ...)',
  throw: 'exceptions', try: 'exceptions', catch: 'exceptions',
  std: 'the C++ standard library allocates and locks', string: 'std::string allocates', vector: 'std::vector allocates',
  printf: 'stdio locks and allocates', fprintf: 'stdio', sprintf: 'stdio', snprintf: 'stdio', puts: 'stdio', fputs: 'stdio', perror: 'stdio',
  strerror: 'strerror may allocate (locale)',
  setenv: 'environment lock', putenv: 'environment lock', getenv: 'environment', unsetenv: 'environment lock',
  getpwnam: 'NSS: locks, allocates, may load modules', getgrnam: 'NSS', getpwuid: 'NSS', getgrgid: 'NSS',
  exit: 'exit runs atexit handlers (use SysExit)', abort: 'abort', syscall: 'libc syscall() sets errno (use Sys())',
  thread_local: 'thread-local storage belongs to the parent thread', pthread_mutex_lock: 'locks',
  Napi: 'N-API', napi_env: 'N-API', uv_loop_t: 'libuv',
};

/** The allowed raw-syscall wrappers of native/sys.h (they are also defined in the scanned set). */
export const SYS_WRAPPERS = ['Sys', 'SysErr', 'SysExit'];

/** Headers whose inclusion alone means the file relies on things the child must not use. */
const FORBIDDEN_HEADERS = /^<(string|vector|memory|map|unordered_map|set|list|deque|functional|algorithm|iostream|sstream|fstream|stdexcept|exception|new|thread|mutex|cstdio|stdio\.h|cstdlib|stdlib\.h|cstring|string\.h|napi\.h|uv\.h|node_api\.h|pthread\.h)>$/;

interface FnDef {
  name: string;
  file: string;
  start: number;
  end: number;
}

function matchBack(tokens: Token[], close: number, open: string, shut: string): number {
  let depth = 0;
  for (let k = close; k >= 0; k--) {
    if (tokens[k].text === shut) depth++;
    else if (tokens[k].text === open && --depth === 0) return k;
  }
  return -1;
}

/** What a `{` at index `i` opens, given the scope it is in. */
function classify(tokens: Token[], i: number, inFunction: boolean): { scope: Scope; name?: string } {
  let k = i - 1;
  if (!inFunction) {
    while (k >= 0 && ['const', 'noexcept', 'override', 'final', 'volatile', '&', '&&'].includes(tokens[k].text)) k--;
    if (k >= 0 && tokens[k].text === ')') {
      const open = matchBack(tokens, k, '(', ')');
      let nameAt = open - 1;
      // `Foo::Bar(` or `operator()(`
      if (nameAt >= 0 && tokens[nameAt].kind === 'id' && !CONTROL.has(tokens[nameAt].text)) return { scope: 'function', name: tokens[nameAt].text };
      while (nameAt >= 0 && tokens[nameAt].text === ']') nameAt = matchBack(tokens, nameAt, '[', ']') - 1;
      return { scope: 'function', name: tokens[nameAt]?.text ?? '?' };
    }
    for (let back = i - 1; back >= 0 && back >= i - 8; back--) {
      const t = tokens[back].text;
      if (t === ';' || t === '}' || t === '{' || t === '=' || t === '(' || t === ',') break;
      if (t === 'namespace' || (t === 'extern' && tokens[back + 1]?.text === '<lit>')) return { scope: 'namespace' };
      if (t === 'struct' || t === 'class' || t === 'union' || t === 'enum') return { scope: 'struct' };
    }
    return { scope: 'init' };
  }
  // Inside a function every brace (block, initializer, lambda body) is part of the body.
  return { scope: 'block' };
}

/**
 * The declarator of a namespace-scope statement that defines a mutable variable, or null.
 * Declarations of functions, types, aliases, externs and constants are not variables.
 */
function mutableGlobal(st: Token[]): Token | null {
  if (st.length < 2) return null;
  const first = st[0].text;
  if (['using', 'typedef', 'template', 'namespace', 'static_assert', 'extern', 'friend', '__asm__', 'asm'].includes(first)) return null;
  const texts = st.map((t) => t.text);
  const eq = texts.indexOf('=');
  const paren = texts.indexOf('(');
  if (paren >= 0 && (eq < 0 || paren < eq)) return null; // a function declaration
  if (texts.includes('constexpr')) return null;
  if (texts.includes('const') && !texts.includes('*')) return null;
  if (['struct', 'class', 'union', 'enum'].includes(first) && st.length === 2) return null; // forward declaration
  const end = eq >= 0 ? eq : st.length;
  const decl = [...st.slice(0, end)].reverse().find((t) => t.kind === 'id');
  return decl ?? null;
}

export interface ScanResult {
  violations: Violation[];
  /** Functions defined in the scanned files (at namespace or struct level). */
  defined: Map<string, string>;
}

/**
 * Scans child-side files. `files` should hold every child-side source plus the project headers
 * they include (sys.h, child.h, spec.h), so the functions those define count as allowed.
 */
export function scanChildSide(files: ScannedFile[], allowed: readonly string[] = SYS_WRAPPERS): ScanResult {
  const violations: Violation[] = [];
  const defs: FnDef[] = [];
  const report = (file: string, t: Token, what: string) => violations.push({ file, line: t.line, what });

  // Pass 1: scopes, function definitions, and namespace-scope variables.
  const bodies = new Map<ScannedFile, Array<[number, number]>>();
  for (const f of files) {
    for (const inc of f.includes) if (FORBIDDEN_HEADERS.test(inc)) violations.push({ file: f.file, line: 0, what: `#include ${inc}` });
    const stack: Array<{ scope: Scope; at: number; name?: string }> = [];
    const ranges: Array<[number, number]> = [];
    let statement: Token[] = [];
    const atNamespaceLevel = () => stack.every((s) => s.scope === 'namespace');
    f.tokens.forEach((t, i) => {
      if (t.text === '{') {
        const inFunction = stack.some((s) => s.scope === 'function');
        const c = classify(f.tokens, i, inFunction);
        stack.push({ scope: c.scope, at: i, name: c.name });
        if (c.scope !== 'init') statement = [];
      } else if (t.text === '}') {
        const s = stack.pop();
        if (s?.scope === 'function') {
          ranges.push([s.at, i]);
          defs.push({ name: s.name!, file: f.file, start: s.at, end: i });
        }
        if (s?.scope !== 'init') statement = [];
      } else if (atNamespaceLevel()) {
        if (t.text === ';') {
          const v = mutableGlobal(statement);
          if (v) violations.push({ file: f.file, line: v.line, what: `namespace-scope variable ${v.text} (the child may share this memory with the parent: CLONE_VM)` });
          statement = [];
        } else {
          statement.push(t);
        }
      }
    });
    if (stack.length !== 0) violations.push({ file: f.file, line: 0, what: 'unbalanced braces: the scanner cannot read this file' });
    bodies.set(f, ranges);
  }
  const defined = new Map(defs.map((d) => [d.name, d.file]));
  const ok = new Set([...allowed, ...defined.keys(), ...BUILTINS]);

  // Pass 2: what every function body does.
  for (const f of files) {
    const ranges = bodies.get(f)!;
    const inBody = (i: number) => ranges.some(([a, b]) => i > a && i < b);
    const tk = f.tokens;
    tk.forEach((t, i) => {
      if (t.kind === 'id' && FORBIDDEN[t.text] !== undefined) {
        // `Sys(SYS_exit_group)` etc. are fine; only the bare identifiers are listed.
        report(f.file, t, `${t.text}: ${FORBIDDEN[t.text]}`);
        return;
      }
      if (!inBody(i)) return;
      const next = tk[i + 1]?.text;
      const prev = tk[i - 1]?.text;
      if (t.text === 'static' && next !== 'constexpr' && next !== 'const') {
        report(f.file, t, 'function-local static (its initialisation takes a lock)');
        return;
      }
      if (t.text === ']' && next === '(') {
        report(f.file, t, 'lambda or call through an array element (cannot be checked)');
        return;
      }
      if (t.kind !== 'id' || next !== '(') {
        // Template call `Name<...>(`: find the name before the angle brackets.
        if (t.text === '>' && next === '(') {
          const open = matchBack(tk, i, '<', '>');
          const inside = open >= 0 ? tk.slice(open + 1, i) : [];
          const isTemplateArgs = open > 0 && inside.every((x) => x.kind !== 'punct' || ['::', '*', '&', ',', '<', '>'].includes(x.text));
          const name = tk[open - 1];
          if (isTemplateArgs && name.kind === 'id' && !CASTS.has(name.text) && !ok.has(name.text)) report(f.file, name, `call of ${name.text}<...>() (not a child-side function)`);
        }
        return;
      }
      if (CONTROL.has(t.text) || TYPES.has(t.text)) return;
      if (prev === '.' || prev === '->') {
        report(f.file, t, `member call ${prev}${t.text}() (the child has no objects with behaviour)`);
        return;
      }
      if (prev === '::') {
        const q = tk[i - 2]?.kind === 'id' ? tk[i - 2].text : '';
        if (q !== 'jail') {
          report(f.file, t, `call of ${q}::${t.text}()`);
          return;
        }
      }
      // A declaration inside a body: `Type name(args);` is indistinguishable from a call; be strict.
      if (!ok.has(t.text)) report(f.file, t, `call of ${t.text}() (only ${allowed.join(', ')} and child-side functions may be called)`);
    });
  }
  return { violations, defined };
}

/** Names of the functions a header declares (`... Name(...);` at namespace level). */
export function declaredFunctions(header: ScannedFile): string[] {
  const out: string[] = [];
  const tk = header.tokens;
  let depth = 0;
  tk.forEach((t, i) => {
    if (t.text === '{' || t.text === '(' || t.text === '[') depth++;
    else if (t.text === '}' || t.text === ')' || t.text === ']') depth--;
    else if (t.kind === 'id' && tk[i + 1]?.text === '(' && !CONTROL.has(t.text)) {
      // depth counts the namespace brace; a declaration ends with `) ;`.
      const open = i + 1;
      let d = 0;
      let k = open;
      for (; k < tk.length; k++) {
        if (tk[k].text === '(') d++;
        else if (tk[k].text === ')' && --d === 0) break;
      }
      if (tk[k + 1]?.text === ';' && depth <= 1) out.push(t.text);
    }
  });
  return out;
}
