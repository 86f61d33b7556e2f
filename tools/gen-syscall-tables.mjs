#!/usr/bin/env node
/**
 * Generates src/policy/tables/{x86_64,aarch64}.ts: kafel's syscall names, numbers and argument
 * names/sizes for each target architecture.
 *
 * Sources, all installable on Debian 12:
 *   - numbers:   x86_64  /usr/include/x86_64-linux-gnu/asm/unistd_64.h        (linux-libc-dev)
 *                aarch64 /usr/aarch64-linux-gnu/include/asm/unistd.h           (linux-libc-dev-arm64-cross),
 *                        expanded with the C preprocessor (asm-generic macros)
 *   - arguments: /sys/kernel/tracing/events/syscalls/sys_enter_NAME/format of the running kernel
 *                (needs root and tracefs; the generic syscalls have the same parameters on both arches)
 *   - overlay:   tools/syscall-overlay.mjs, kafel's own names and its hand-made entries.
 *
 * Run as root: node tools/gen-syscall-tables.mjs   (the output is checked in; CI never runs this)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as overlay from './syscall-overlay.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TRACEFS = '/sys/kernel/tracing/events/syscalls';

function x86_64Numbers() {
  const text = readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
  const out = new Map();
  for (const m of text.matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) out.set(m[1], Number(m[2]));
  return out;
}

function aarch64Numbers() {
  const inc = '/usr/aarch64-linux-gnu/include';
  // Without -nostdinc the host's <asm/...> would win; arm64's unistd.h picks the generic table
  // with the switches arm64 sets itself.
  const base = ['-E', '-nostdinc', '-I', inc, '-x', 'c', '-'];
  const defs = execFileSync('cc', [...base, '-dM'], { input: '#include <asm/unistd.h>\n' }).toString();
  const names = [...defs.matchAll(/^#define __NR_(\w+)\s/gm)]
    .map((m) => m[1])
    .filter((n) => n !== 'syscalls' && n !== 'arch_specific_syscall' && !n.startsWith('3264'));
  const probe = '#include <asm/unistd.h>\n' + names.map((n) => `SYS ${n} __NR_${n}`).join('\n') + '\n';
  const expanded = execFileSync('cc', [...base, '-P'], { input: probe }).toString();
  const out = new Map();
  for (const line of expanded.split('\n')) {
    const m = /^SYS (\w+) (.+)$/.exec(line.trim());
    if (!m) continue;
    // values are sums like (__NR_arch_specific_syscall+0) already expanded to (244+0)
    if (!/^[\d\s()+]+$/.test(m[2])) throw new Error(`unexpected value for ${m[1]}: ${m[2]}`);
    out.set(m[1], m[2].match(/\d+/g).reduce((a, b) => a + Number(b), 0));
  }
  return out;
}

/** Kafel's argument size for a C parameter type: pointers and longs 8, int-likes 4, umode_t 2. */
function sizeOfType(type) {
  const t = type.replace(/\bconst\b/g, '').replace(/\s+/g, ' ').trim();
  if (t.includes('*')) return 8;
  const eight = ['unsigned long', 'long', 'size_t', 'loff_t', 'off_t', 'u64', '__u64', 'aio_context_t',
    'cap_user_header_t', 'cap_user_data_t'];
  const four = ['int', 'unsigned int', 'unsigned', 'pid_t', 'uid_t', 'gid_t', 'u32', '__u32', '__s32',
    'clockid_t', 'timer_t', 'mqd_t', 'key_t', 'key_serial_t', 'qid_t', 'rwf_t', 'enum landlock_rule_type'];
  if (t === 'umode_t') return 2;
  if (eight.includes(t)) return 8;
  if (four.includes(t)) return 4;
  throw new Error(`no kafel size known for C type '${type}'`);
}

function tracefsArgs() {
  if (!existsSync(TRACEFS)) throw new Error(`${TRACEFS} missing: mount -t tracefs nodev /sys/kernel/tracing (as root)`);
  const out = new Map();
  for (const dir of readdirSync(TRACEFS)) {
    if (!dir.startsWith('sys_enter_')) continue;
    const text = readFileSync(join(TRACEFS, dir, 'format'), 'utf8');
    const fields = [...text.matchAll(/field:([^;]*?)\s*([A-Za-z_]\w*);\s*offset:(\d+)/g)]
      .filter((m) => Number(m[3]) >= 16); // skip common_* and __syscall_nr
    out.set(dir.slice('sys_enter_'.length), fields.map((m) => `${m[2]}:${sizeOfType(m[1])}`).join(' '));
  }
  return out;
}

function build(arch, numbers, kernelArgs) {
  const renames = overlay.renames[arch];
  const entries = new Map();
  for (const [uapi, nr] of numbers) {
    if (overlay.removals[arch].includes(uapi)) continue;
    entries.set(renames[uapi] ?? uapi, nr);
  }
  for (const [name, nr] of Object.entries(overlay.additions[arch])) entries.set(name, nr);
  const rows = [];
  const missing = [];
  for (const [name, nr] of entries) {
    let args = overlay.args[arch][name] ?? kernelArgs.get(name);
    if (args === undefined) {
      missing.push(name);
      args = '';
    }
    rows.push([name, nr, args]);
  }
  rows.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  return { rows, missing };
}

function emit(arch, rows, aliases) {
  const lines = rows.map(([n, nr, a]) => `  [${JSON.stringify(n)}, ${nr}, ${JSON.stringify(a)}],`);
  const aliasLines = Object.entries(aliases).map(([u, k]) => `  ${JSON.stringify(u)}: ${JSON.stringify(k)},`);
  return `// Generated by tools/gen-syscall-tables.mjs: do not edit (change the overlay and regenerate).
// ${arch}: ${rows.length} syscalls as kafel names them; arguments as "name:size" (size in bytes).

export const rows: ReadonlyArray<readonly [string, number, string]> = [
${lines.join('\n')}
];

/** UAPI/libc spellings kafel does not accept, with kafel's name (used for "did you mean"). */
export const uapiAliases: Readonly<Record<string, string>> = {
${aliasLines.join('\n')}
};
`;
}

const kernelArgs = tracefsArgs();
const outDir = join(root, 'src/policy/tables');
mkdirSync(outDir, { recursive: true });
for (const [arch, numbers] of [['x86_64', x86_64Numbers()], ['aarch64', aarch64Numbers()]]) {
  const { rows, missing } = build(arch, numbers, kernelArgs);
  writeFileSync(join(outDir, `${arch}.ts`), emit(arch, rows, overlay.renames[arch]));
  console.log(`${arch}: ${rows.length} syscalls; without argument metadata: ${missing.join(' ') || 'none'}`);
}
