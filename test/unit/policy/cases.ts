/**
 * Policy tables shared by the unit tests (checked through the BPF interpreter) and the native
 * tests (replayed in the real kernel). An input is [arch, nr, ...args]; `kernel: true` marks
 * cases whose inputs are harmless x86_64 syscalls the native replay may really make.
 */
import type { ArchName } from '../../../src/policy';

export type Input = [arch: string, nr: number, ...args: bigint[]];

export interface PolicyCase {
  name: string;
  policy: string;
  archs?: ArchName[];
  /** [input, expected action name] */
  expect: [Input, string][];
  kernel?: boolean;
}

const M = (1n << 64n) - 1n;
const neg = (n: bigint) => (1n << 64n) - n;
// x86_64 numbers of the harmless syscalls used below
const read = 0, write = 1, close = 3, lseek = 8, dup = 32, getpid = 39, kill = 62, fcntl = 72, getuid = 102, getppid = 110;
const BADFD = M; // fd -1: EBADF, nothing happens

export const CASES: PolicyCase[] = [
  {
    name: 'allow-list with DEFAULT KILL_PROCESS',
    policy: 'ALLOW { getppid, getuid } DEFAULT KILL_PROCESS',
    kernel: true,
    expect: [
      [['x86_64', getppid], 'ALLOW'],
      [['x86_64', getuid], 'ALLOW'],
      [['x86_64', getpid], 'KILL_PROCESS'],
      [['i386', 20], 'KILL_PROCESS'],
    ],
  },
  {
    name: 'every action',
    policy: `ALLOW { getppid } LOG { getuid } ERRNO(5) { dup } TRAP(7) { close } KILL { read }
             KILL_PROCESS { write } TRACE(3) { fcntl } USER_NOTIF { lseek } DEFAULT ERRNO(1)`,
    kernel: true,
    expect: [
      [['x86_64', getppid], 'ALLOW'],
      [['x86_64', getuid], 'LOG'],
      [['x86_64', dup, BADFD], 'ERRNO(5)'],
      [['x86_64', close, BADFD], 'TRAP(7)'],
      [['x86_64', read, BADFD], 'KILL_THREAD'],
      [['x86_64', write, BADFD], 'KILL_PROCESS'],
      [['x86_64', fcntl, BADFD], 'TRACE(3)'],
      [['x86_64', lseek, BADFD], 'USER_NOTIF'],
      [['x86_64', getpid], 'ERRNO(1)'],
    ],
  },
  {
    name: 'ERRNO values are emitted as written (the kernel caps at 4095)',
    policy: 'ERRNO(0) { getppid } ERRNO(4095) { getuid } ERRNO(4096) { dup } ERRNO(65535) { close } DEFAULT ALLOW',
    kernel: true,
    expect: [
      [['x86_64', getppid], 'ERRNO(0)'],
      [['x86_64', getuid], 'ERRNO(4095)'],
      [['x86_64', dup, BADFD], 'ERRNO(4096)'],
      [['x86_64', close, BADFD], 'ERRNO(65535)'],
    ],
  },
  {
    name: '32-bit argument compares the low half only; declared names are 64-bit',
    policy: 'ERRNO(1) { dup { fildes == 0x1234 } } ERRNO(2) { close(a) { a == 0x1234 } } DEFAULT ALLOW',
    kernel: true,
    expect: [
      [['x86_64', dup, 0x1234n], 'ERRNO(1)'],
      [['x86_64', dup, 0x100001234n], 'ERRNO(1)'],
      [['x86_64', close, 0x1234n], 'ERRNO(2)'],
      [['x86_64', close, 0x100001234n], 'ALLOW'],
    ],
  },
  {
    name: 'negative constants are 64-bit and miss zero-extended values',
    policy: 'ERRNO(1) { kill { pid == -1 } } ERRNO(2) { dup { fildes == 0xffffffff } } DEFAULT ALLOW',
    kernel: true,
    expect: [
      [['x86_64', kill, M, 0n], 'ERRNO(1)'],
      [['x86_64', kill, 0xffffffffn, 0n], 'ALLOW'],
      [['x86_64', dup, M], 'ERRNO(2)'],
      [['x86_64', dup, 0xffffffffn], 'ERRNO(2)'],
    ],
  },
  {
    name: 'unsigned 64-bit inequalities on two halves',
    policy: `ERRNO(1) { lseek { offset <= 0x100000000 } }
             ERRNO(2) { read { count >= 0x100000001 && count < 0x200000000 } }
             ERRNO(3) { write { count > 0x7fffffffffffffff } }
             DEFAULT ALLOW`,
    kernel: true,
    expect: [
      [['x86_64', lseek, BADFD, 0n], 'ERRNO(1)'],
      [['x86_64', lseek, BADFD, 0x100000000n], 'ERRNO(1)'],
      [['x86_64', lseek, BADFD, 0x100000001n], 'ALLOW'],
      [['x86_64', lseek, BADFD, 0xffffffffn], 'ERRNO(1)'],
      [['x86_64', read, BADFD, 0n, 0x100000000n], 'ALLOW'],
      [['x86_64', read, BADFD, 0n, 0x100000001n], 'ERRNO(2)'],
      [['x86_64', read, BADFD, 0n, 0x1ffffffffn], 'ERRNO(2)'],
      [['x86_64', read, BADFD, 0n, 0x200000000n], 'ALLOW'],
      [['x86_64', write, BADFD, 0n, 0x8000000000000000n], 'ERRNO(3)'],
      [['x86_64', write, BADFD, 0n, 0x7fffffffffffffffn], 'ALLOW'],
      [['x86_64', write, BADFD, 0n, neg(0x80000000n)], 'ERRNO(3)'],
    ],
  },
  {
    name: 'first match in flattened order, each policy used once',
    policy: `POLICY p1 { ERRNO(1) { dup } }
             POLICY p2 { ERRNO(2) { dup, close } }
             POLICY p3 { ERRNO(3) { close }, USE p1 }
             USE p3, USE p2, USE p1, ERRNO(4) { getppid } DEFAULT ALLOW`,
    kernel: true,
    expect: [
      [['x86_64', dup, BADFD], 'ERRNO(1)'],
      [['x86_64', close, BADFD], 'ERRNO(3)'],
      [['x86_64', getppid], 'ERRNO(4)'],
    ],
  },
  {
    name: 'an unconditional rule ends the chain for its number',
    policy: 'ALLOW { getppid } ERRNO(1) { getppid, dup { fildes == 1 } } ERRNO(2) { dup } DEFAULT KILL',
    kernel: true,
    expect: [
      [['x86_64', getppid], 'ALLOW'],
      [['x86_64', dup, 1n], 'ERRNO(1)'],
      [['x86_64', dup, BADFD], 'ERRNO(2)'],
    ],
  },
  {
    name: 'precedence: & over comparison, ! on a comparison, comma is the lowest OR',
    policy: `ERRNO(1) { dup { fildes & 3 == 2 } }
             ERRNO(2) { close { !fd == 7, fd == 9 && fd != 9 } }
             ERRNO(3) { fcntl { fd | cmd & 0xf0 == 0x35 } }
             DEFAULT ALLOW`,
    kernel: true,
    expect: [
      [['x86_64', dup, 0x6n], 'ERRNO(1)'],
      [['x86_64', dup, 0x7n], 'ALLOW'],
      [['x86_64', close, 7n], 'ALLOW'],
      [['x86_64', close, BADFD], 'ERRNO(2)'],
      [['x86_64', fcntl, 0x5n, 0x30n], 'ERRNO(3)'],
      [['x86_64', fcntl, 0x5n, 0x3n], 'ALLOW'],
    ],
  },
  {
    name: 'constant folding removes rules',
    policy: 'ERRNO(1) { getppid { 1 == 2 } } ERRNO(2) { dup { fildes < fildes } } ERRNO(3) { dup { fildes >= 0 } } DEFAULT ALLOW',
    kernel: true,
    expect: [
      [['x86_64', getppid], 'ALLOW'],
      [['x86_64', dup, BADFD], 'ERRNO(3)'],
    ],
  },
  {
    name: 'constants shadow argument names and name custom syscalls',
    policy: '#define fildes 5\n#define mine 110\nERRNO(1) { dup { fildes == 1 } } ERRNO(2) { mine } ERRNO(3) { dup } DEFAULT ALLOW',
    kernel: true,
    expect: [
      [['x86_64', dup, 5n], 'ERRNO(3)'],
      [['x86_64', getppid], 'ERRNO(2)'],
    ],
  },
  {
    name: 'custom syscall numbers truncate to 32 bits',
    policy: 'ERRNO(1) { SYSCALL[0x10000006e] } ERRNO(2) { SYSCALL[-1] } ERRNO(3) { SYSCALL[102](a) { a == 1 } } DEFAULT ALLOW',
    kernel: true,
    expect: [
      [['x86_64', getppid], 'ERRNO(1)'],
      [['x86_64', getuid, 1n], 'ERRNO(3)'],
      [['x86_64', getuid, 0x100000001n], 'ALLOW'],
      [['x86_64', 0xffffffff], 'ERRNO(2)'],
    ],
  },
  {
    name: 'x32 numbers: KILL_PROCESS under a non-killing DEFAULT unless named (deliberate difference)',
    policy: 'KILL_PROCESS { ptrace } ERRNO(7) { SYSCALL[0x40000027] } DEFAULT ALLOW',
    kernel: true,
    expect: [
      [['x86_64', 0x40000209], 'KILL_PROCESS'],
      [['x86_64', 0x40000065], 'KILL_PROCESS'],
      [['x86_64', 0x40000027], 'ERRNO(7)'],
      [['x86_64', 0x7fffffff], 'KILL_PROCESS'],
      [['x86_64', 0x80000000], 'ALLOW'],
      [['x86_64', 0x3fffffff], 'ALLOW'],
      [['x86_64', getppid], 'ALLOW'],
    ],
  },
  {
    name: 'x32 numbers kill the process under a KILL_THREAD DEFAULT too (deliberate difference)',
    policy: 'ALLOW { getppid } DEFAULT KILL',
    kernel: true,
    expect: [
      [['x86_64', 0x40000000 + getppid], 'KILL_PROCESS'],
      [['x86_64', getpid], 'KILL_THREAD'],
      [['x86_64', getppid], 'ALLOW'],
    ],
  },
  {
    name: 'foreign arch is KILL_PROCESS whatever the DEFAULT (deliberate difference: kafel says KILL_THREAD)',
    policy: 'DEFAULT ERRNO(1)',
    expect: [
      [['x86_64', getppid], 'ERRNO(1)'],
      [['i386', 20], 'KILL_PROCESS'],
      [['0', 20], 'KILL_PROCESS'],
      [['0xffffffff', 20], 'KILL_PROCESS'],
      [['aarch64', 172], 'KILL_PROCESS'],
    ],
  },
  {
    name: 'multi-arch: per-arch numbering and guards',
    archs: ['x86_64', 'aarch64'],
    policy: 'ALLOW { getppid, open ON x86_64, newfstat } ERRNO(9) { SYSCALL[500] ON amd64 } DEFAULT KILL_PROCESS',
    expect: [
      [['x86_64', 110], 'ALLOW'],
      [['aarch64', 173], 'ALLOW'],
      [['x86_64', 2], 'ALLOW'],
      [['aarch64', 56], 'KILL_PROCESS'],
      [['x86_64', 5], 'ALLOW'],
      [['aarch64', 80], 'ALLOW'],
      [['x86_64', 500], 'ERRNO(9)'],
      [['aarch64', 500], 'KILL_PROCESS'],
      [['i386', 20], 'KILL_PROCESS'],
      [['arm', 20], 'KILL_PROCESS'],
    ],
  },
  {
    name: 'two non-constant operands use X and scratch memory',
    policy: 'ERRNO(1) { kill { (pid & sig) == (sig | pid) } } ERRNO(2) { read { (fd & count) | (buf & fd) != (count & buf) } } DEFAULT ALLOW',
    kernel: true,
    expect: [
      [['x86_64', kill, 0n, 0n], 'ERRNO(1)'],
      [['x86_64', kill, 0x7fffffffn, 0n], 'ALLOW'],
      [['x86_64', read, 1n, 0n, 1n], 'ERRNO(2)'],
      [['x86_64', read, BADFD, 0n, 0n], 'ALLOW'],
    ],
  },
  {
    name: 'clone3 gets ENOSYS so libc falls back to clone',
    policy: 'ERRNO(38) { clone3 } DEFAULT ALLOW',
    expect: [[['x86_64', 435], 'ERRNO(38)']],
  },
];
