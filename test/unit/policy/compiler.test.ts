import { describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { JailError, formatError } from '../../../src/errors';
import {
  actionName, archFromAudit, checkFilter, compilePolicy, disassemble, evaluate, rawListing, run, syscallName, syscallNumber,
  type ArchName,
} from '../../../src/policy';
import { CASES } from './cases';
import { toData } from './helpers';
import { scratchDir } from '../../helpers/scratch';

const X86: { archs: ArchName[] } = { archs: ['x86_64'] };

function verdict(policy: string, input: Parameters<typeof toData>[0], archs: ArchName[] = ['x86_64']) {
  return actionName(evaluate(compilePolicy(policy, { archs }), toData(input)));
}

function compileError(policy: string, options = {}): JailError {
  try {
    compilePolicy(policy, { archs: ['x86_64'], ...options });
  } catch (e) {
    expect(e).toBeInstanceOf(JailError);
    expect((e as JailError).code).toBe('policy');
    return e as JailError;
  }
  throw new Error(`compiled but should not: ${policy.slice(0, 200)}`);
}

describe('policy tables through the interpreter', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const filter = compilePolicy(c.policy, { archs: c.archs ?? ['x86_64'] });
      checkFilter(filter.insns);
      for (const [input, want] of c.expect) expect([input, actionName(evaluate(filter, toData(input)))]).toEqual([input, want]);
    });
  }
});

describe('lexer', () => {
  it('reads numbers in every base, with kafel octal and negative wrap-around', () => {
    const v = (lit: string) => verdict(`ERRNO(1) { SYSCALL[${lit}] } DEFAULT ALLOW`, ['x86_64', Number(BigInt.asUintN(32, BigInt(lit.replace(/^-/, '')) * (lit.startsWith('-') ? -1n : 1n))) >>> 0]);
    expect(verdict('ERRNO(1) { SYSCALL[09] } DEFAULT ALLOW', ['x86_64', 0])).toBe('ERRNO(1)');
    expect(verdict('ERRNO(1) { SYSCALL[0779] } DEFAULT ALLOW', ['x86_64', 63])).toBe('ERRNO(1)');
    expect(verdict('ERRNO(1) { SYSCALL[0777] } DEFAULT ALLOW', ['x86_64', 511])).toBe('ERRNO(1)');
    expect(verdict('ERRNO(1) { SYSCALL[0b101] } DEFAULT ALLOW', ['x86_64', 5])).toBe('ERRNO(1)');
    expect(verdict('ERRNO(1) { SYSCALL[0xAbCdEf] } DEFAULT ALLOW', ['x86_64', 0xabcdef])).toBe('ERRNO(1)');
    expect(v('-2')).toBe('ERRNO(1)');
    expect(verdict('ERRNO(1) { kill { pid == -9223372036854775808 } } DEFAULT ALLOW', ['x86_64', 62, 0x8000000000000000n])).toBe('ERRNO(1)');
  });

  it('rejects what kafel rejects', () => {
    expect(compileError('ALLOW { SYSCALL[0X10] }').message).toMatch(/syntax error/);
    expect(compileError('ALLOW { SYSCALL[-0] }').message).toBe("unexpected char '-'");
    expect(compileError('ALLOW { kill { pid == - 1 } }').message).toBe("unexpected char '-'");
    expect(compileError('ALLOW { SYSCALL[18446744073709551616] }').message).toBe("number '18446744073709551616' out of range");
    expect(compileError('ALLOW { SYSCALL[-18446744073709551616] }').message).toMatch(/out of range/);
    expect(compileError('ALLOW { _llseek }').message).toBe("unexpected char '_'");
    expect(compileError('ALLOW { read };').message).toBe("unexpected char ';'");
    expect(compileError('').message).toMatch(/syntax error, unexpected end of file/);
  });

  it('handles comments, including the **/ quirk, and rejects CR', () => {
    expect(verdict('/* a */ ALLOW { read } // b\n/* x ***/ DEFAULT KILL', ['x86_64', 0])).toBe('ALLOW');
    expect(compileError('ALLOW { read } /* x **/').message).toBe('unterminated comment');
    expect(compileError('/* open').message).toBe('unterminated comment');
    const cr = compileError('ALLOW { read }\r\nDEFAULT KILL');
    expect(cr.message).toBe("unexpected char '\\r'");
    expect(cr.hint).toMatch(/LF/);
  });
});

describe('parser', () => {
  it('accepts entries with or without commas at file scope, and statements in any order', () => {
    const src = 'DEFAULT ERRNO(3) ALLOW {read} ERRNO(1) {write}, ERRNO(2) {close} #define X 1 KILL {}';
    expect(verdict(src, ['x86_64', 1])).toBe('ERRNO(1)');
    expect(verdict(src, ['x86_64', 3])).toBe('ERRNO(2)');
    expect(verdict(src, ['x86_64', 4])).toBe('ERRNO(3)');
  });

  it('covers every construct', () => {
    const src = `
      # define FLAGS 3
      POLICY a { ALLOW { read, write { fd == 1 } }, ERRNO(2) { close } }
      POLICY empty {}
      POLICY b { USE a, USE empty, TRAP(4) { dup(x, y) { x == y || !(x & FLAGS) == 0 } } }
      USE b
      KILL_PROCESS { SYSCALL[1000] ON { x86_64, arm64 }, newfstat ON amd64 {} }
      DENY { SYSCALL[1001] }
      DEFAULT LOG`;
    const f = compilePolicy(src, X86);
    const v = (nr: number, ...a: bigint[]) => actionName(evaluate(f, toData(['x86_64', nr, ...a])));
    expect(v(0)).toBe('ALLOW');
    expect(v(1, 1n)).toBe('ALLOW');
    expect(v(1, 2n)).toBe('LOG');
    expect(v(3)).toBe('ERRNO(2)');
    expect(v(32, 5n, 5n)).toBe('TRAP(4)');
    expect(v(32, 4n, 5n)).toBe('LOG');
    expect(v(32, 1n, 5n)).toBe('TRAP(4)');
    expect(v(1000)).toBe('KILL_PROCESS');
    expect(v(5)).toBe('KILL_PROCESS');
    expect(v(1001)).toBe('KILL_THREAD');
  });

  it('reports semantic errors with kafel wording and a span', () => {
    expect(compileError('ALLOW { read } , DEFAULT KILL').message).toMatch(/syntax error, unexpected 'DEFAULT'/);
    expect(compileError('POLICY p { ALLOW { read } ERRNO(1) { write } }').message).toMatch(/syntax error/);
    expect(compileError('POLICY p { #define X 1 }').message).toMatch(/syntax error/);
    expect(compileError('#define X 1\n#define X 2').message).toBe("Redefinition of constant 'X' with different value (was: 1 is: 2)");
    expect(() => compilePolicy('#define X 1\n#define X 1\nALLOW { read }', X86)).not.toThrow();
    expect(compileError('POLICY p {} POLICY p {}').message).toBe("Redefinition of policy 'p'");
    expect(compileError('USE p POLICY p {}').message).toBe("Undefined policy 'p'");
    expect(compileError('DEFAULT KILL DEFAULT ALLOW').message).toBe('Redefinition of default action');
    expect(compileError('ERRNO(65536) { read }').message).toBe('Errno value 65536 out of range (0-65535)');
    expect(compileError('TRAP(-1) { read }').message).toBe('Trap value 18446744073709551615 out of range (0-65535)');
    expect(compileError('#define EPERM 1\nERRNO(EPERM) { read }').message).toMatch(/syntax error/);
    expect(compileError('ALLOW { read(a, a) }').message).toBe("Redefinition of argument 'a'");
    expect(compileError('ALLOW { read(a, b, c, d, e, f, g) }').message).toBe('Too many arguments defined for syscall');
    expect(compileError('ALLOW { read() { fd == 1 } }').message).toBe("Undefined identifier 'fd'");
    expect(compileError('ALLOW { read ON vax }').message).toBe("Unknown architecture 'vax'");
    expect(compileError('ALLOW { read ON { x86_64, amd64 } }').message).toBe("Duplicate architecture 'amd64'");
    expect(compileError('ALLOW { read { fd } }').message).toMatch(/syntax error/);
    expect(compileError('ALLOW { read { fd == 1 == 2 } }').message).toMatch(/syntax error/);
    expect(compileError('ALLOW { add_key { _type == 0 } }').message).toBe("unexpected char '_'");
  });

  describe('expression depth, counted and refused as kafel does (MAX_EXPRESSION_DEPTH 200)', () => {
    // kafel: a number or name is 0 deep, each operator node one more than its deepest operand,
    // chains are left-nested ((a && b) && c), parentheses add nothing.
    const cmps = (n: number, op: string) => Array.from({ length: n }, (_, i) => `fd == ${i}`).join(` ${op} `);
    const shapes: Record<string, (depth: number) => string> = {
      '&&': (d) => cmps(d, '&&'),
      '||': (d) => cmps(d, '||'),
      ',': (d) => cmps(d, ','),
      '!': (d) => `${'!'.repeat(d - 1)}fd == 1`,
      '|': (d) => `${Array(d).fill('fd').join(' | ')} == 1`,
      '&': (d) => `${Array(d).fill('fd').join(' & ')} == 1`,
    };
    const policy = (cond: string) => `ALLOW {\n  read {\n    ${cond}\n  }\n}`;

    for (const [name, shape] of Object.entries(shapes)) {
      it(`${name}: depth 200 compiles, 201 is refused at file:line:col, 100000 is refused without overflowing the stack`, () => {
        expect(() => compilePolicy(policy(shape(200)), X86)).not.toThrow();
        const e = compileError(policy(shape(201)), { file: 'deep.policy' });
        expect(e.message).toBe('Max expression depth (200) exceeded');
        expect(e.span).toMatchObject({ file: 'deep.policy', line: 3 });
        expect(compileError(policy(shape(100_000))).message).toBe('Max expression depth (200) exceeded');
      });
    }

    it('is reported where kafel reports it: at the left operand of the node too deep, or at its !', () => {
      const col = (cond: string) => compileError(policy(cond)).span!.col - '    '.length;
      expect(col(`fd == 0 || (${cmps(201, '&&')})`)).toBe(1 + 'fd == 0 || ('.length);
      expect(col(`fd == 0 || ${'!'.repeat(200)}fd == 1`)).toBe(1 + 'fd == 0 || '.length);
      expect(col(`fd == 0 || !!${'!'.repeat(200)}fd == 1`)).toBe(1 + 'fd == 0 || !!'.length);
      expect(col(`(${cmps(200, '&&')}) || fd == 0`)).toBe(1);
    });

    it('parentheses add no depth; more than 200 nested are refused without overflowing the stack', () => {
      const nested = (n: number, inner = 'fd == 1') => `${'('.repeat(n)}${inner}${')'.repeat(n)}`;
      const notNested = (n: number) => `${'!('.repeat(n)}fd == 1${')'.repeat(n)}`;
      expect(() => compilePolicy(policy(nested(200)), X86)).not.toThrow();
      expect(() => compilePolicy(policy(`fd == ${nested(200, 'fd')}`), X86)).not.toThrow();
      expect(() => compilePolicy(policy(notNested(199)), X86)).not.toThrow();
      expect(compileError(policy(notNested(200))).message).toBe('Max expression depth (200) exceeded');
      for (const cond of [nested(201), nested(100_000), `fd == ${nested(100_000, 'fd')}`, notNested(100_000)]) {
        const e = compileError(policy(cond), { file: 'deep.policy' });
        expect(e.message).toBe('parentheses nested deeper than 200');
        expect(e.span).toMatchObject({ file: 'deep.policy', line: 3 });
      }
    });
  });

  it('prints file:line:col with the line and a caret, and suggests syscall names', () => {
    const e = compileError('ALLOW {\n  read, fstat\n}', { file: 'p.policy' });
    expect(e.message).toBe("Undefined identifier 'fstat'");
    expect(e.span).toMatchObject({ file: 'p.policy', line: 2, col: 9, length: 5 });
    expect(e.hint).toMatch(/did you mean 'newfstat'/);
    expect(formatError(e)).toBe("p.policy:2:9: Undefined identifier 'fstat'\n    read, fstat\n          ^^^^^\n  hint: no syscall 'fstat' on x86_64; did you mean 'newfstat'?");
    expect(compileError('ALLOW { opne }').hint).toMatch(/did you mean 'open'/);
    expect(compileError('ALLOW { open }', { archs: ['aarch64'] }).hint).toMatch(/on aarch64; did you mean 'openat'/);
    expect(compileError('ALLOW { read { fdd == 1 } }').hint).toBe('arguments of read: fd, buf, count');
  });
});

describe('includes', () => {
  const dir = scratchDir('policy-inc-');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a.policy'), '#define FD 7\nPOLICY a { ERRNO(1) { dup { fildes == FD } } }\n');
  writeFileSync(join(dir, 'sub', 'b.policy'), 'POLICY b { ERRNO(2) { close } }\n');
  writeFileSync(join(dir, 'bad.policy'), 'POLICY c { ALLOW { nosuchcall } }\n');
  writeFileSync(join(dir, 'noeol.policy'), '#include "a.policy"');
  writeFileSync(join(dir, 'loop.policy'), '#include "loop.policy"\n');
  const opts = { archs: ['x86_64'] as ArchName[], includePaths: [join(dir, 'sub'), dir] };

  it('searches only the include paths, several files per directive, ; or newline ends it', () => {
    const f = compilePolicy('#include "a.policy" "b.policy";USE a USE b DEFAULT ALLOW', opts);
    expect(actionName(evaluate(f, toData(['x86_64', 32, 7n])))).toBe('ERRNO(1)');
    expect(actionName(evaluate(f, toData(['x86_64', 3])))).toBe('ERRNO(2)');
    expect(compileError('#include "a.policy"\nALLOW { read }').message).toBe("could not include file 'a.policy'");
  });

  it('reports errors in included files with their path', () => {
    const e = compileError('#include "bad.policy"\nALLOW { read }', opts);
    expect(e.span?.file).toBe(join(dir, 'bad.policy'));
    expect(compileError('#include "noeol.policy"\n', opts).message).toBe('unterminated include statement');
    expect(compileError('#include "a.policy" "a.policy"\n', opts).message).toBe("Redefinition of policy 'a'");
    expect(compileError('#include "loop.policy"\n', opts).message).toBe('maximum include depth (16) exceeded');
    expect(compileError('#include"a.policy"\n', opts).message).toBe('unexpected filename');
  });
});

describe('pitfalls', () => {
  it('2, 7: default semantics; an all-KILL policy still kills the process for foreign and x32 calls', () => {
    for (const policy of ['DEFAULT KILL', 'KILL { read } DENY { write }']) {
      expect(verdict(policy, ['x86_64', 0])).toBe('KILL_THREAD');
      expect(verdict(policy, ['x86_64', 0x40000000])).toBe('KILL_PROCESS');
      expect(verdict(policy, ['i386', 20])).toBe('KILL_PROCESS');
    }
    expect(verdict('ALLOW { read }', ['x86_64', 1])).toBe('KILL_THREAD');
    for (const d of ['ALLOW', 'KILL', 'KILL_PROCESS', 'ERRNO(1)']) expect(verdict(`DEFAULT ${d}`, ['i386', 1])).toBe('KILL_PROCESS');
  });

  it('16: kafel table names', () => {
    expect(() => compilePolicy('ALLOW { newfstat, newuname, sendfile64, sysctl, umount }', X86)).not.toThrow();
    expect(compileError('ALLOW { fstat }').message).toBe("Undefined identifier 'fstat'");
    expect(compileError('ALLOW { umount2 }').hint).toMatch(/'umount'/);
    expect(compileError('ALLOW { open }', { archs: ['aarch64'] }).message).toBe("Undefined identifier 'open'");
    expect(compileError('ALLOW { pkey_alloc }', { archs: ['aarch64'] }).message).toBe("Undefined identifier 'pkey_alloc'");
    expect(() => compilePolicy('ALLOW { sync_file_range2, newfstat, umount }', { archs: ['aarch64'] })).not.toThrow();
  });

  it('17: unused policies are validated; 14: guarded-out rules are not', () => {
    expect(compileError('POLICY unused { ALLOW { nosuch } } ALLOW { read }').message).toBe("Undefined identifier 'nosuch'");
    expect(() => compilePolicy('ALLOW { open ON x86_64 }', { archs: ['aarch64'] })).not.toThrow();
    expect(verdict('ALLOW { read ON AArch64 } DEFAULT ERRNO(1)', ['x86_64', 0])).toBe('ERRNO(1)');
  });

  it('20: long programs use trampolines and stay within the kernel limit', () => {
    const nrs = Array.from({ length: 300 }, (_, i) => 1000 + i * 7);
    const rules = nrs.map((n, i) => `SYSCALL[${n}](a, b) { a == ${i} && b != ${i * 3} }`).join(', ');
    const f = compilePolicy(`ALLOW { ${rules} } DEFAULT ERRNO(1)`, X86);
    checkFilter(f.insns);
    expect(f.insns.some((i) => i.code === 0x05)).toBe(true);
    expect(actionName(evaluate(f, toData(['x86_64', 1000 + 150 * 7, 150n, 0n])))).toBe('ALLOW');
    expect(actionName(evaluate(f, toData(['x86_64', 1000 + 150 * 7, 150n, 450n])))).toBe('ERRNO(1)');
    const many = Array.from({ length: 4000 }, (_, i) => `SYSCALL[${10000 + i * 3}]`).join(', ');
    expect(compileError(`ALLOW { ${many} } DEFAULT ERRNO(1)`).message).toMatch(/Filter length exceeds maximum seccomp filter length: \d+ > 4096/);
  });

  it('21: more than 16 scratch slots is a compile error', () => {
    const nested = Array.from({ length: 18 }).reduce<string>((acc) => `(${acc} & (a | b))`, '(c | b)');
    expect(compileError(`ALLOW { read(a, b, c) { ${nested} == (c & b) } }`).message).toMatch(/Required stack size exceeds available BPF memory/);
  });

  it('24: USER_NOTIF sets usesUserNotif', () => {
    expect(compilePolicy('USER_NOTIF { read } DEFAULT ALLOW', X86).usesUserNotif).toBe(true);
    expect(compilePolicy('ALLOW { read }', X86).usesUserNotif).toBe(false);
  });
});

describe('lookups and listings', () => {
  it('maps names and numbers per arch', () => {
    expect(syscallName('x86_64', 63)).toBe('newuname');
    expect(syscallName('aarch64', 160)).toBe('newuname');
    expect(syscallNumber('x86_64', 'openat')).toBe(257);
    expect(syscallNumber('aarch64', 'openat')).toBe(56);
    expect(syscallNumber('x86_64', 'futex_wait')).toBe(455);
    expect(archFromAudit(0xc000003e)).toBe('x86_64');
    expect(archFromAudit(0x40000003)).toBe('i386');
    expect(actionName(0x00030003)).toBe('TRAP(3)');
    expect(actionName(0x7ff00005)).toBe('TRACE(5)');
  });

  it("golden disassembly of kafel's documented example policy", () => {
    const f = compilePolicy(`#define O_RDONLY 0
ALLOW { read, write { fd == 1 || fd == 2 }, openat { (flags & 3) == O_RDONLY },
        lseek { offset < 0x100000000 } }
ERRNO(38) { clone3 }
DEFAULT KILL_PROCESS`, X86);
    expect(disassemble(f)).toBe(`; x86_64: 20 instructions
 0: ld  arch
 1: jeq #0xc000003e ? 2 : 18          ; x86_64
 2: ld  nr
 3: jge #0x9        ? 12 : 4          ; nr >= mmap
 4: jge #0x2        ? 9 : 5           ; nr >= open
 5: jge #0x1        ? 6 : 16          ; nr >= write
 6: ld  args[0]+0
 7: jeq #0x1        ? 16 : 8
 8: jeq #0x2        ? 16 : 18
 9: jge #0x8        ? 10 : 18         ; nr >= lseek
10: ld  args[1]+4
11: jge #0x1        ? 18 : 16
12: jge #0x101      ? 13 : 18         ; nr >= openat
13: jge #0x102      ? 17 : 14         ; nr >= mkdirat
14: ld  args[2]+0
15: jset#0x3        ? 18 : 16
16: ret ALLOW
17: jeq #0x1b3      ? 19 : 18         ; nr == clone3
18: ret KILL_PROCESS
19: ret ERRNO(38)
`);
    expect(rawListing(f).split('\n')[2]).toBe('  { 0x0020,   0,   0, 0x00000004 },');
  });
});

/** A deterministic PRNG so failures reproduce. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
}

describe('differential: generated BPF against a direct evaluation of the rules', () => {
  it('agrees on random policies and inputs', () => {
    const rand = rng(42);
    const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const consts = [0n, 1n, 2n, 3n, 0xffn, 0xffffffffn, 0x100000000n, 0x100000001n, (1n << 64n) - 1n, 0x8000000000000000n];
    const ops = ['==', '!=', '<', '<=', '>', '>='];
    const operand = (depth: number): string => {
      const r = rand();
      if (depth > 1 || r < 0.4) return pick(['fd', 'count', 'buf', 'a', 'b']).replace(/^(a|b)$/, 'fd');
      if (r < 0.7) return `0x${pick(consts).toString(16)}`;
      return `(${operand(depth + 1)} ${pick(['&', '|'])} ${operand(depth + 1)})`;
    };
    const cond = (depth: number): string => {
      const r = rand();
      if (depth > 1 || r < 0.5) return `${operand(0)} ${pick(ops)} ${operand(0)}`;
      if (r < 0.65) return `!(${cond(depth + 1)})`;
      return `(${cond(depth + 1)}) ${pick(['&&', '||', ','])} (${cond(depth + 1)})`;
    };
    const actions = ['ALLOW', 'ERRNO(1)', 'ERRNO(2)', 'KILL_PROCESS', 'TRAP(3)'];
    for (let round = 0; round < 40; round++) {
      const rules: { nr: number; action: string; c?: string }[] = [];
      for (let i = 0; i < 8; i++) rules.push({ nr: pick([0, 1, 17, 18]), action: pick(actions), c: rand() < 0.8 ? cond(0) : undefined });
      const def = pick(actions);
      const names: Record<number, string> = { 0: 'read', 1: 'write', 17: 'pread64', 18: 'pwrite64' };
      const src = rules.map((r) => `${r.action} { ${names[r.nr]}${r.c ? ` { ${r.c} }` : ''} }`).join('\n') + `\nDEFAULT ${def}`;
      const filter = compilePolicy(src, X86);
      checkFilter(filter.insns);
      // Reference: the same rules compiled one at a time, each answering for its own number.
      for (let k = 0; k < 30; k++) {
        const nr = pick([0, 1, 17, 18, 2]);
        const args = [pick(consts), pick(consts) ^ BigInt(k), pick(consts), pick(consts)];
        let want = def;
        for (const r of rules) {
          if (r.nr !== nr) continue;
          if (!r.c) {
            want = r.action;
            break;
          }
          const single = compilePolicy(`ALLOW { ${names[r.nr]} { ${r.c} } } DEFAULT ERRNO(99)`, X86);
          if (actionName(evaluate(single, toData(['x86_64', nr, ...args]))) === 'ALLOW') {
            want = r.action;
            break;
          }
        }
        const got = actionName(evaluate(filter, toData(['x86_64', nr, ...args])));
        if (got !== want) throw new Error(`mismatch for ${nr} ${args.join(' ')}:\n${src}\ngot ${got} want ${want}`);
      }
    }
  });
});

describe('bounded parser fuzz', () => {
  it('never crashes and only throws JailError', () => {
    const rand = rng(7);
    const seeds = [
      ...CASES.map((c) => c.policy),
      '#define X 0x10\nPOLICY p { ALLOW { read { fd == X } }, USE q }\nUSE p DEFAULT KILL',
      'ALLOW { mmap { (prot & 4) != 0 && flags | 0x20 == 0x22 } } /* c */ DEFAULT ERRNO(1)',
    ];
    const alphabet = ['{', '}', '(', ')', '[', ']', ',', '!', '#', '==', '&&', '||', '&', '|', '<', '>=', ' ', '\n', '0', '-1', '0x', 'read', 'ALLOW', 'POLICY', 'USE', 'define', 'ON', 'SYSCALL', '/*', '*/', '//', '"', '#include', '\r', '_', ';'];
    let compiled = 0;
    for (let i = 0; i < 1500; i++) {
      let s = seeds[Math.floor(rand() * seeds.length)];
      for (let m = 0; m < 1 + Math.floor(rand() * 4); m++) {
        const at = Math.floor(rand() * (s.length + 1));
        const r = rand();
        if (r < 0.4) s = s.slice(0, at) + alphabet[Math.floor(rand() * alphabet.length)] + s.slice(at);
        else if (r < 0.8) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 5));
        else s = s.slice(0, at) + s.slice(Math.floor(rand() * s.length));
      }
      try {
        const f = compilePolicy(s, X86);
        checkFilter(f.insns);
        run(f, { arch: 0xc000003e, nr: 0, args: [] });
        compiled++;
      } catch (e) {
        if (!(e instanceof JailError)) throw new Error(`non-JailError for ${JSON.stringify(s)}: ${String(e)}`);
      }
    }
    expect(compiled).toBeGreaterThan(10);
  });
});
