/**
 * Process flags: --silent, --stderr_to_null, --skip_setsid, --nice_level, --oom_score_adj, the
 * personality flags, --disable_tsc, --pass_fd, -x/--exec_file, --execute_fd, every --rlimit_*
 * (values, units and the soft|hard|inf|def|max words), --disable_rlimits; and the library's
 * stdin/stdout/stderr plumbing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { planJail } from '../../../src/index';
import { parseProcLimits } from '../../../src/sandbox/host';
import { parseFlags, parseProbe, probePath, SCRATCH, runFlags, runProbe, runProbeMinimal, tempDir, type Probe } from './helpers';

const CHROOT = ['--chroot', '/'];

interface Limit {
  soft: string;
  hard: string;
}

/** This process's rlimits by the probe's names, in the probe's units (bytes, seconds, counts; 'inf'). */
function ownLimits(): Record<string, Limit> {
  const inf = (v: string) => (v === 'infinity' ? 'inf' : v);
  const out: Record<string, Limit> = {};
  for (const [name, l] of parseProcLimits(fs.readFileSync('/proc/self/limits', 'utf8'))) out[name] = { soft: inf(l.soft), hard: inf(l.hard) };
  return out;
}

/** The host session id of a process (field 6 of /proc/PID/stat). */
function hostSid(pid: number | 'self'): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

describeAsRoot('stdio flags and the library streams', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    probePath();
    tmp = tempDir();
  });
  afterAll(() => tmp?.remove());

  /** The jail's fds 0-2 as the host sees them (/proc/PID/fd), while it prints on both streams. */
  async function fdTargets(flags: string[]) {
    let targets: string[] = [];
    const r = await runFlags([...CHROOT, ...flags], [probePath(), 'none', 'print:on-stdout', 'stderr:on-stderr', 'sleep:0.3'], {
      stdin: 'input',
      onStart: (jail) => {
        targets = [0, 1, 2].map((fd) => fs.readlinkSync(`/proc/${jail.pid}/fd/${fd}`));
      },
    });
    expect(r.exitCode).toBe(0);
    return { result: r, targets };
  }

  it('by default stdin, stdout and stderr are the caller’s (pipes here) and captured', async () => {
    const { result, targets } = await fdTargets([]);
    expect(targets).toHaveLength(3);
    for (const t of targets) expect(t).toMatch(/^pipe:\[\d+\]$/);
    expect(String(result.stdout).split('\n')[0]).toBe('on-stdout');
    expect(result.stderr).toBe('on-stderr\n');
  });

  it('--silent connects 0, 1 and 2 to /dev/null', async () => {
    const { result, targets } = await fdTargets(['--silent']);
    expect(targets).toEqual(['/dev/null', '/dev/null', '/dev/null']);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('');
  });

  it('--stderr_to_null connects only 2 to /dev/null', async () => {
    const { result, targets } = await fdTargets(['--stderr_to_null']);
    expect(targets[0]).toMatch(/^pipe:/);
    expect(targets[1]).toMatch(/^pipe:/);
    expect(targets[2]).toBe('/dev/null');
    expect(String(result.stdout).split('\n')[0]).toBe('on-stdout');
    expect(result.stderr).toBe('');
  });

  it('stdin given as a string reaches the program; stdout is captured up to maxOutputBytes', async () => {
    const input = 'line one\nline two\n'.repeat(100);
    const { probe } = await runProbe(CHROOT, ['none', 'stdin'], { stdin: input });
    expect(probe.stdin.bytes).toBe(Buffer.byteLength(input));
    expect(probe.stdin.sha1).toBe(createHash('sha1').update(input).digest('hex'));
    const capped = await runFlags(CHROOT, ['/bin/sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" x'], { maxOutputBytes: 1000 });
    expect(capped.exitCode).toBe(0);
    expect(capped.stdout).toBe('x'.repeat(1000));
    expect(capped.stdoutTruncated).toBe(true);
  });
});

describeAsRoot('process flags', () => {
  beforeAll(() => void probePath());

  it('--skip_setsid keeps the caller’s session; by default the jail leads its own', async () => {
    let ownSession = -1;
    let jailPid = -1;
    const def = await runProbe(CHROOT, ['ids', 'sleep:0.2'], {
      onStart: (j) => {
        jailPid = j.pid;
        ownSession = hostSid(j.pid);
      },
    });
    expect(def.probe.sid).toBe(def.probe.pid);
    expect(ownSession).toBe(jailPid);

    let skippedSession = -1;
    const skip = await runProbe([...CHROOT, '--skip_setsid'], ['ids', 'sleep:0.2'], {
      onStart: (j) => {
        skippedSession = hostSid(j.pid);
      },
    });
    expect(skip.probe.sid).not.toBe(skip.probe.pid);
    expect(skippedSession).toBe(hostSid('self'));
  });

  it('--nice_level and --oom_score_adj', async () => {
    const { probe } = await runProbe([...CHROOT, '--nice_level', '7', '--oom_score_adj', '500'], ['misc']);
    expect(probe.nice).toBe(7);
    expect(probe.oomScoreAdj).toBe(500);
    const def = await runProbe(CHROOT, ['misc']);
    expect(def.probe.nice).toBe(19);
  });

  it.each([
    ['--persona_addr_no_randomize', 0x0040000],
    ['--persona_addr_compat_layout', 0x0200000],
    ['--persona_mmap_page_zero', 0x0100000],
    ['--persona_addr_limit_3gb', 0x8000000],
  ])('%s sets that personality bit', async (flag, bit) => {
    const { probe } = await runProbe([...CHROOT, flag], ['misc']);
    expect(probe.personality & bit).toBe(bit);
    expect(probe.personality & ~bit).toBe(0);
  });

  it('--persona_read_implies_exec is planned (x86_64 execve clears it again for 64-bit programs)', async () => {
    const { config, command } = parseFlags([...CHROOT, '--persona_read_implies_exec', '--', probePath(), 'misc']);
    expect(planJail({ config, command }).plan.personality).toBe(0x0400000);
    const { result } = await runProbe([...CHROOT, '--persona_read_implies_exec'], ['misc']);
    expect(result.exitCode).toBe(0);
  });

  it.runIf(process.arch === 'x64')('--disable_tsc makes rdtsc fault (PR_TSC_SIGSEGV)', async () => {
    const on = await runProbe([...CHROOT, '--disable_tsc'], ['misc']);
    expect(on.probe.tsc).toBe(2);
    const off = await runProbe(CHROOT, ['misc']);
    expect(off.probe.tsc).toBe(1);
  });

  it('--pass_fd keeps that descriptor open at the same number; others are closed', async () => {
    const t = tempDir();
    const file = path.join(t.dir, 'passed');
    fs.writeFileSync(file, 'x');
    const fd = fs.openSync(file, 'r');
    try {
      const { probe } = await runProbe([...CHROOT, '--pass_fd', String(fd)], ['fds']);
      expect(probe.fds).toEqual([0, 1, 2, fd]);
      expect(probe.fdTargets[String(fd)]).toBe(file);
      const without = await runProbe(CHROOT, ['fds']);
      expect(without.probe.fds).toEqual([0, 1, 2]);
    } finally {
      fs.closeSync(fd);
      t.remove();
    }
  });

  it('-x/--exec_file runs that binary with argv from after --', async () => {
    const short = await runFlags([...CHROOT, '-x', '/bin/echo'], ['/bin/false', 'from', 'argv']);
    expect(short.exitCode).toBe(0);
    expect(short.stdout).toBe('from argv\n');
    const long = await runFlags([...CHROOT, '--exec_file', probePath()], ['/bin/false', 'ids']);
    expect(long.exitCode).toBe(0);
    expect(parseProbe(long.stdout).args).toEqual(['ids']);
  });

  it('--execute_fd runs a binary that is not inside the jail at all', async () => {
    const withFd = await runFlags(['--execute_fd'], [probePath(), 'ids', 'path:' + probePath()]);
    expect(withFd.exitCode).toBe(0);
    const probe = parseProbe(withFd.stdout);
    expect(probe.pid).toBe(1);
    expect(probe.paths[probePath()].exists).toBe(false);
    const withoutFd = await runFlags([], [probePath(), 'ids']);
    expect(withoutFd.outcome).toBe('setup-failed');
    expect(withoutFd.error?.stage).toBe('execve');
    expect(withoutFd.error?.errno).toBe('ENOENT');
  });
});

describeAsRoot('rlimit flags', () => {
  beforeAll(() => void probePath());
  const MiB = 1024 * 1024;

  it('every --rlimit_* takes a number in its unit and sets soft = hard', async () => {
    const flags = [
      ['--rlimit_as', '300', String(300 * MiB), 'as'],
      ['--rlimit_core', '2', String(2 * MiB), 'core'],
      ['--rlimit_cpu', '7', '7', 'cpu'],
      ['--rlimit_fsize', '3', String(3 * MiB), 'fsize'],
      ['--rlimit_nofile', '64', '64', 'nofile'],
      ['--rlimit_nproc', '100', '100', 'nproc'],
      ['--rlimit_stack', '4', String(4 * MiB), 'stack'],
      ['--rlimit_memlock', '128', String(128 * 1024), 'memlock'],
      ['--rlimit_rtprio', '0', '0', 'rtprio'],
      ['--rlimit_msgqueue', '4096', '4096', 'msgqueue'],
    ];
    const { probe } = await runProbe([...CHROOT, ...flags.flatMap(([f, v]) => [f, v])], ['rlimits']);
    for (const [flag, , want, name] of flags) {
      expect(probe.rlimits[name], flag).toEqual({ cur: want, max: want });
    }
  });

  it('the words soft/def, hard/max and inf take the caller’s limits or unlimited', async () => {
    const own = ownLimits();
    const { probe } = await runProbe(
      [...CHROOT, '--rlimit_nofile', 'hard', '--rlimit_as', 'max', '--rlimit_cpu', 'soft', '--rlimit_stack', 'def', '--rlimit_fsize', 'inf', '--rlimit_core', 'soft'],
      ['rlimits'],
    );
    const both = (v: string) => ({ cur: v, max: v });
    expect(probe.rlimits.nofile).toEqual(both(own.nofile.hard));
    expect(probe.rlimits.as).toEqual(both(own.as.hard));
    expect(probe.rlimits.cpu).toEqual(both(own.cpu.soft));
    expect(probe.rlimits.stack).toEqual(both(own.stack.soft));
    expect(probe.rlimits.fsize).toEqual(both('inf'));
    expect(probe.rlimits.core).toEqual(both(own.core.soft));
  });

  it.each(['soft', 'def', 'hard', 'max', 'inf'])('every --rlimit_* accepts the word %s', async (word) => {
    const own = ownLimits();
    const names = ['as', 'core', 'cpu', 'fsize', 'nofile', 'nproc', 'stack', 'memlock', 'rtprio', 'msgqueue'];
    const want = (name: string) => (word === 'inf' ? 'inf' : word === 'soft' || word === 'def' ? own[name].soft : own[name].hard);
    // inf above the caller's hard limit cannot be set in a user namespace: refused before launch.
    const settable = names.filter((n) => word !== 'inf' || own[n].hard === 'inf');
    const refused = names.filter((n) => !settable.includes(n));
    for (const n of refused) {
      await expect(runFlags([...CHROOT, `--rlimit_${n}`, word], ['/bin/true']), n).rejects.toThrow(new RegExp(`rlimit_${n}`));
    }
    const { probe } = await runProbe([...CHROOT, ...settable.flatMap((n) => [`--rlimit_${n}`, word])], ['rlimits']);
    for (const n of settable) expect(probe.rlimits[n], n).toEqual({ cur: want(n), max: want(n) });
  });

  it('--disable_rlimits sets none: the caller’s limits are inherited as they are', async () => {
    const own = ownLimits();
    const { probe } = await runProbe([...CHROOT, '--disable_rlimits'], ['rlimits']);
    for (const name of ['as', 'core', 'cpu', 'fsize', 'nofile', 'nproc', 'stack', 'memlock', 'msgqueue', 'rtprio']) {
      expect(probe.rlimits[name], name).toEqual({ cur: own[name].soft, max: own[name].hard });
    }
  });

  it('the default fsize limit (1 MiB) stops a 2 MB write at 1 MiB with EFBIG', async () => {
    const { probe } = await runProbe([...CHROOT, '-T', SCRATCH], ['none', `write:${SCRATCH}/f:2097152`]);
    expect(probe.write.written).toBe(MiB);
    expect(probe.write.errno).toBe('EFBIG');
  });

  it('--rlimit_as limits allocations', async () => {
    const { probe } = await runProbe([...CHROOT, '--rlimit_as', '64'], ['none', 'alloc:256']);
    expect(probe.alloc.ok).toBe(false);
    expect(probe.alloc.errno).toBe('ENOMEM');
    expect(probe.alloc.gotMiB).toBeLessThan(64);
  });

  it('--rlimit_cpu 1 kills a busy loop with SIGXCPU after about a second of CPU', async () => {
    const r = await runFlags([...CHROOT, '--rlimit_cpu', '1'], [probePath(), 'none', 'spin:20']);
    expect(r.outcome).toBe('signaled');
    expect(['SIGXCPU', 'SIGKILL']).toContain(r.signal);
    expect(r.exitCode).toBe(128 + (r.signal === 'SIGXCPU' ? 24 : 9));
    expect(r.userTimeMs + r.systemTimeMs).toBeGreaterThanOrEqual(500);
    expect(r.wallTimeMs).toBeLessThan(15_000);
  });

  it('a value above the caller’s hard limit is refused before launch, naming the flag', async () => {
    const own = ownLimits();
    if (own.nofile.hard === 'inf') return;
    await expect(runFlags([...CHROOT, '--rlimit_nofile', String(Number(own.nofile.hard) + 1)], ['/bin/true'])).rejects.toThrow(/rlimit_nofile/);
  });

  it('rlimits in a minimal jail too (sanity: the static probe needs nothing else)', async () => {
    const { probe }: { probe: Probe } = await runProbeMinimal(['--rlimit_nofile', '10'], ['rlimits']);
    expect(probe.rlimits.nofile).toEqual({ cur: '10', max: '10' });
  });
});
