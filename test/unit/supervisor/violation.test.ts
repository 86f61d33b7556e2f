/** Reading the kernel's AUDIT_SECCOMP records: which process died on which syscall. */
import { describe, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import { describeViolation, parseSeccompRecord } from '../../../src/supervisor/violation';

// As /dev/kmsg and dmesg show it (kernel 6.x, x86_64).
const KMSG =
  'audit: type=1326 audit(1795624402.351:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=3659 comm="sigsys" exe="/tmp/exp/sigsys" sig=31 arch=c000003e syscall=63 compat=0 ip=0x7fc6c248c829 code=0x80000000';
// As the audit netlink socket delivers it (the text after the header), with an LSM subject.
const NETLINK =
  'audit(1795624402.351:7): auid=1000 uid=1000 gid=1000 ses=3 subj=unconfined pid=41 comm="python3" exe="/usr/bin/python3.11" sig=31 arch=c00000b7 syscall=160 compat=0 ip=0xffff9a3c code=0x80000000';

describe('parseSeccompRecord', () => {
  it('reads pid, arch and syscall number from a kmsg line', () => {
    expect(parseSeccompRecord(KMSG)).toEqual({ pid: 3659, arch: 0xc000003e, nr: 63 });
  });

  it('reads a netlink record', () => {
    expect(parseSeccompRecord(NETLINK)).toEqual({ pid: 41, arch: 0xc00000b7, nr: 160 });
  });

  it('ignores text that is not a seccomp record', () => {
    expect(parseSeccompRecord('audit: type=1400 audit(1.2:3): apparmor="DENIED" operation="open" pid=12 comm="x"')).toBeNull();
    expect(parseSeccompRecord('')).toBeNull();
    expect(parseSeccompRecord('random kernel line')).toBeNull();
  });

  it('auid/ppid-like keys are not taken for pid', () => {
    expect(parseSeccompRecord('auid=7 ses=1 pid=99 comm="a" arch=c000003e syscall=1')).toMatchObject({ pid: 99 });
  });

  it('cannot be fooled by the jailed program\'s own exe path or comm (they come before arch= and syscall=)', () => {
    // The program controls comm and the path it runs from; the kernel logs both unquoted-safe
    // when they have no spaces. The real arch/syscall fields come after them.
    const spoofed =
      'audit: type=1326 audit(1795624402.351:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=3659 comm="arch=40000003" exe="/tmp/arch=c000003e/syscall=59" sig=31 arch=c000003e syscall=63 compat=0 ip=0x7fc6c248c829 code=0x80000000';
    expect(parseSeccompRecord(spoofed)).toEqual({ pid: 3659, arch: 0xc000003e, nr: 63 });
  });
});

describe('describeViolation', () => {
  it('names the syscall on x86_64 and aarch64 (kafel spelling)', () => {
    expect(describeViolation(0xc000003e, 63)).toEqual({ syscall: 'newuname', nr: 63, arch: 'x86_64' });
    expect(describeViolation(0xc000003e, 59)).toEqual({ syscall: 'execve', nr: 59, arch: 'x86_64' });
    expect(describeViolation(0xc00000b7, 160)).toEqual({ syscall: 'newuname', nr: 160, arch: 'aarch64' });
  });

  it('an unknown number or another arch keeps the number but no name', () => {
    expect(describeViolation(0xc000003e, 99999)).toEqual({ syscall: null, nr: 99999, arch: 'x86_64' });
    const i386 = describeViolation(0x40000003, 11);
    expect(i386.syscall).toBeNull();
    expect(i386.nr).toBe(11);
    expect(i386.arch).toBe('i386');
  });

  it('an x32 number (x86_64 arch, bit 30 set) is reported as arch x32', () => {
    expect(describeViolation(0xc000003e, 0x40000000 + 39)).toEqual({ syscall: null, nr: 0x40000000 + 39, arch: 'x32' });
  });
});
