/**
 * The jail's event stream: one JSON object per line (`--events FILE|fd:N`, or `onEvent` of
 * run()). One kind so far: a syscall the seccomp policy sent to the supervisor (kafel's
 * USER_NOTIF, or seccomp_unotify), emitted before the syscall goes on. The same notifications are
 * counted for the exit report (`notifications`), as nsjail's seccomp_unotify report does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailError } from '../errors';
import type { SeccompNotification } from '../native/types';
import { describeViolation } from './violation';
import type { NetEvent } from '../net/events';
import type { UnotifyStat } from './unotify-report';

export interface SyscallEvent {
  type: 'syscall';
  /** The syscall's name on `arch`, or null when jail has no table for it. */
  name: string | null;
  nr: number;
  arch: string | null;
  /** The six argument registers as hex: values and pointers only, never memory they point to. */
  args: string[];
  /** Host pid of the calling thread. */
  pid: number;
  /** The supervisor's answer: the syscall continued (what the policy refuses is never notified). */
  action: 'continue';
}

export type JailEvent = SyscallEvent | NetEvent;

export interface NotificationSummary {
  total: number;
  /** Count per syscall name ("#nr" when it has none). */
  bySyscall: Record<string, number>;
  /** seccomp_unotify: the paths and endpoints the syscalls named (nsjail's unotify report). */
  report?: UnotifyStat;
}

export function syscallEvent(n: SeccompNotification): SyscallEvent {
  const { syscall, arch } = describeViolation(n.arch, n.nr);
  return { type: 'syscall', name: syscall, nr: n.nr, arch, args: n.args.map((a) => `0x${a.toString(16)}`), pid: n.pid, action: 'continue' };
}

export class NotificationCounter {
  private readonly summary: NotificationSummary = { total: 0, bySyscall: {} };

  count(e: SyscallEvent): void {
    const key = e.name ?? `#${e.nr}`;
    this.summary.total++;
    this.summary.bySyscall[key] = (this.summary.bySyscall[key] ?? 0) + 1;
  }

  result(): NotificationSummary {
    return { total: this.summary.total, bySyscall: { ...this.summary.bySyscall } };
  }
}

export interface EventSink {
  write(e: JailEvent): void;
  close(): void;
}

/**
 * `--events` target: "fd:N" writes to an fd the caller opened (not closed here), anything else
 * is a file, created or truncated. Each event is one synchronous write, so it is on disk before
 * the syscall it describes goes on.
 */
export function openEventSink(target: string, caller: { cwd: string; fd(n: number): number } = { cwd: process.cwd(), fd: (n) => n }): EventSink {
  const m = /^fd:(\d+)$/.exec(target);
  let fd: number;
  try {
    fd = m ? caller.fd(Number(m[1])) : fs.openSync(path.resolve(caller.cwd, target), 'w', 0o640);
    if (m) fs.fstatSync(fd);
  } catch (e) {
    throw new JailError('flag', `--events ${target}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'a file path, or fd:N for an open file descriptor' });
  }
  return {
    write: (e) => void fs.writeSync(fd, JSON.stringify(e) + '\n'),
    close: () => {
      if (!m) fs.closeSync(fd);
    },
  };
}
