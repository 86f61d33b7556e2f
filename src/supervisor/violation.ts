/**
 * Naming the syscall behind a seccomp kill. The kernel logs each kill as an audit record
 * ("type=1326 ... pid=N ... arch=c000003e syscall=63"); the reader is opened before the jail
 * starts so the record cannot be missed, and closed when the jail ends. Where no reader is
 * allowed (unprivileged, dmesg restricted), the report says the syscall is unknown.
 */
import type { NativeAddon } from '../native/types';
import type { SeccompViolation } from './report';

export interface ViolationReader {
  /** Waits briefly for the kernel's record of `pid`'s seccomp kill. */
  identify(pid: number): Promise<SeccompViolation>;
  close(): void;
}

// Keys are matched only after white space: the jailed program controls its exe path and comm,
// which the kernel logs (quoted, or hex-encoded when they hold spaces) before these fields, so a
// path like /tmp/arch=c000003e/syscall=59 must not be read as the record's own fields.
const RECORD = /(?:^|\s)pid=(\d+)\s(?:.*\s)?arch=([0-9a-fA-F]+)\s(?:.*\s)?syscall=(\d+)(?:\s|$)/;
const WAIT_MS = 250;
const POLL_MS = 10;

/** Parses one AUDIT_SECCOMP record text. */
export function parseSeccompRecord(text: string): { pid: number; arch: number; nr: number } | null {
  const m = RECORD.exec(text);
  return m ? { pid: Number(m[1]), arch: parseInt(m[2], 16), nr: Number(m[3]) } : null;
}

/** x32 syscalls arrive with x86_64's AUDIT_ARCH and this bit set in the number. */
const X32_SYSCALL_BIT = 0x40000000;

/** Names the syscall from our tables (x86_64, aarch64); other arches (i386, x32, ...) get nr and arch only. */
export function describeViolation(arch: number, nr: number): SeccompViolation {
  const { archFromAudit, syscallName } = require('../policy') as typeof import('../policy');
  const archName = archFromAudit(arch);
  if (archName === 'x86_64' && nr >= X32_SYSCALL_BIT) return { syscall: null, nr, arch: 'x32' };
  const known = archName === 'x86_64' || archName === 'aarch64';
  return { syscall: known ? (syscallName(archName, nr) ?? null) : null, nr, arch: archName };
}

export function openViolationReader(addon: NativeAddon): ViolationReader {
  const { fd, kind } = addon.auditOpen();
  const unknown: SeccompViolation = { syscall: null, nr: null, arch: null };
  if (fd < 0 || kind === 'none') return { identify: async () => unknown, close: () => {} };
  return {
    async identify(pid) {
      // The record is written by the kernel's audit thread, shortly after the kill.
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        for (const text of addon.auditRead(fd, kind)) {
          const rec = parseSeccompRecord(text);
          if (rec && rec.pid === pid) return describeViolation(rec.arch, rec.nr);
        }
        if (Date.now() >= deadline) return unknown;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    },
    close: () => void addon.close(fd),
  };
}
