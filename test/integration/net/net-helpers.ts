/**
 * Small shared pieces of the net tests: why the lab cannot run here (for describeIf: a skip
 * locally, a failure on CI), one lab per describe block with its teardown check, and the
 * probe's JSON output.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import { hostProcesses } from '../core/helpers';
import { createLab, hostNetSnapshot, netnsList, type Lab, type LabResult } from './lab';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProbeOut = Record<string, any>;

const TOOLS: Record<string, string> = {
  '/usr/sbin/ip': 'iproute2',
  '/usr/sbin/dnsmasq': 'dnsmasq-base',
  '/usr/bin/pasta': 'passt',
  '/usr/bin/python3': 'python3',
  '/usr/bin/setpriv': 'util-linux',
  '/usr/bin/unshare': 'util-linux',
  '/usr/bin/findmnt': 'util-linux',
};

/** Why the lab cannot be built here, or null. */
export function labReason(): string | null {
  if (process.geteuid?.() !== 0) return 'needs root (creates network namespaces)';
  for (const [tool, pkg] of Object.entries(TOOLS)) if (!fs.existsSync(tool)) return `${tool} is missing (Debian package ${pkg})`;
  return null;
}

/** The last non-empty stdout line of a probe run, as JSON; the error says what was printed. */
export function parseLast(r: LabResult): ProbeOut {
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1];
  try {
    if (last === undefined) throw new Error('no output');
    return JSON.parse(last) as ProbeOut;
  } catch {
    throw new Error(`no probe JSON (exit ${r.code}, signal ${r.signal}, timedOut ${r.timedOut}, ${r.wallMs} ms)\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 4000)}`);
  }
}

/**
 * A lab for the enclosing describe block: made in beforeAll, destroyed in afterAll with the
 * teardown check (nothing of it left, the host's namespace as it was). Returns its accessor and
 * the host's network as it was before the lab.
 */
export function useLab(): { L: () => Lab; hostBefore: () => string } {
  let lab: Lab | undefined;
  let hostBefore = '';
  beforeAll(async () => {
    hostBefore = hostNetSnapshot();
    lab = await createLab();
  });
  afterAll(() => {
    const l = lab;
    lab = undefined;
    if (!l) return;
    l.destroy();
    expect(l.leftovers()).toEqual([]);
    const names = netnsList();
    expect(names).not.toContain(l.labNs);
    expect(names).not.toContain(l.worldNs);
    expect(names.filter((n) => n.startsWith(`jl${process.pid}x`))).toEqual([]);
    expect(hostNetSnapshot()).toBe(hostBefore);
  });
  const L = () => {
    if (!lab) throw new Error('the lab was not created (beforeAll failed?)');
    return lab;
  };
  return { L, hostBefore: () => hostBefore };
}

/** Host pids whose command line (NUL-joined) matches `test`. */
export function processesWhere(test: (argv: string[]) => boolean): number[] {
  return hostProcesses()
    .map((p) => p.pid)
    .filter((pid) => {
      try {
        return test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean));
      } catch {
        return false;
      }
    });
}

/** Polls `f` until it returns a non-empty list, bounded in time (every 50 ms). */
export async function waitFor<T>(what: string, f: () => T[], timeoutMs: number): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = f();
    if (got.length > 0) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
