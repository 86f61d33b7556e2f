/**
 * `jail policy compile` and `jail policy eval`: how users debug their kafel policies without
 * running a jail. Both compile with the library (src/policy) and print through CliIO.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { JailError, formatError } from '../errors';
import type { CliIO } from './io';
import {
  type ArchName, type Filter, type SeccompData, actionName, auditFromName, compilePolicyFile, disassemble, evaluate, rawListing,
} from '../policy';

interface CommonOptions {
  arch?: string;
  include: string[];
}

function parseArchs(list: string | undefined): ArchName[] | undefined {
  if (list === undefined) return undefined;
  const out: ArchName[] = [];
  for (const a of list.split(',').map((s) => s.trim())) {
    if (a !== 'x86_64' && a !== 'aarch64') {
      throw new JailError('flag', `--arch: unknown architecture '${a}'`, { hint: 'accepted: x86_64, aarch64, or x86_64,aarch64' });
    }
    if (!out.includes(a)) out.push(a);
  }
  return out;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function compileWith(policy: string, opts: CommonOptions): Filter {
  return compilePolicyFile(policy, { archs: parseArchs(opts.arch), includePaths: opts.include });
}

const U64 = (1n << 64n) - 1n;

/** A number of an INPUTS line: decimal, 0x hex or negative decimal, taken modulo 2^64. */
function parseNumber(text: string, what: string, lineNo: number): bigint {
  if (!/^(-?\d+|0x[0-9a-fA-F]+)$/.test(text)) {
    throw new JailError('flag', `INPUTS line ${lineNo}: ${what} '${text}' is not a number`, { hint: 'numbers are decimal, 0x hex or negative decimal' });
  }
  return BigInt(text) & U64;
}

/** `ARCH NR A0 … A5`; ARCH a name or an AUDIT_ARCH number. Blank and `#` lines give undefined. */
export function parseInputLine(line: string, lineNo: number): SeccompData | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields[0] === '' || fields[0].startsWith('#')) return undefined;
  if (fields.length < 2 || fields.length > 8) {
    throw new JailError('flag', `INPUTS line ${lineNo}: expected 'ARCH NR [A0 … A5]', got ${fields.length} fields`);
  }
  const named = auditFromName(fields[0]);
  const arch = named ?? Number(parseNumber(fields[0], 'ARCH', lineNo) & 0xffffffffn);
  const nr = Number(parseNumber(fields[1], 'NR', lineNo) & 0xffffffffn);
  const args = fields.slice(2).map((f) => parseNumber(f, 'argument', lineNo));
  while (args.length < 6) args.push(0n);
  return { arch, nr, args };
}

export function registerPolicyCommand(program: Command, io: CliIO): void {
  const policy = program.command('policy').description('compile and test kafel seccomp policies');

  policy
    .command('compile')
    .description('compile a kafel policy and print the BPF program')
    .option('--arch <list>', 'target architectures: x86_64, aarch64 or x86_64,aarch64 (default: this machine)')
    .option('-I, --include <dir>', 'directory #include searches (repeatable, in order)', collect, [])
    .option('--raw', 'print the program as a C sock_filter array instead of a disassembly')
    .argument('<policy>', 'policy file')
    .action((file: string, opts: CommonOptions & { raw?: boolean }) => {
      const filter = compileWith(file, opts);
      io.stdout(opts.raw ? rawListing(filter) : disassemble(filter));
    });

  policy
    .command('eval')
    .description("run a compiled policy on syscalls in the BPF interpreter; one 'ARCH NR A0..A5' per line")
    .option('--arch <list>', 'target architectures: x86_64, aarch64 or x86_64,aarch64 (default: this machine)')
    .option('-I, --include <dir>', 'directory #include searches (repeatable, in order)', collect, [])
    .argument('<policy>', 'policy file')
    .argument('<inputs>', "file of inputs, or '-' for standard input")
    .action(async (file: string, inputs: string, opts: CommonOptions) => {
      const archs = parseArchs(opts.arch);
      const text = inputs === '-' ? await io.readStdin() : readInputs(inputs);
      let filter: Filter;
      try {
        filter = compilePolicyFile(file, { archs, includePaths: opts.include });
      } catch (e) {
        if (!(e instanceof JailError) || e.code !== 'policy') throw e;
        io.stdout(`COMPILE_ERROR\t${formatError(e).split('\n')[0]}\n`);
        throw e;
      }
      const out: string[] = [];
      text.split('\n').forEach((line, i) => {
        const data = parseInputLine(line, i + 1);
        if (!data) return;
        const ret = evaluate(filter, data);
        out.push(`0x${ret.toString(16).padStart(8, '0')} ${actionName(ret)}\n`);
      });
      io.stdout(out.join(''));
    });
}

function readInputs(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new JailError('flag', `cannot read INPUTS file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  }
}
