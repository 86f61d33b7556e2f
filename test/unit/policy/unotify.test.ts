/**
 * The listener filter and the policy filter stacked (src/policy/unotify.ts) decide, syscall by
 * syscall, what the policy alone decides, with USER_NOTIF where the jail wants a notification:
 * checked with the interpreter the way the kernel combines stacked filters (the stricter wins).
 */
import { NET_WATCH_POLICY } from '../../../src/net/watch';
import { describe, expect, it } from 'vitest';
import { AUDIT_ARCH, RET, compilePolicy, evaluate, syscallNumber, type Filter, type SockFilter } from '../../../src/policy';
import { stackForListener, unotifyPolicySource, UNOTIFY_SYSCALLS } from '../../../src/policy/unotify';

const X86 = { archs: ['x86_64' as const] };
/** The kernel's order of precedence, strictest first (include/uapi/linux/seccomp.h). */
const PRECEDENCE = [RET.KILL_PROCESS, RET.KILL_THREAD, RET.TRAP, RET.ERRNO, RET.USER_NOTIF, RET.TRACE, RET.LOG, RET.ALLOW];
const rank = (ret: number) => PRECEDENCE.indexOf(((ret & 0xffff0000) >>> 0) as (typeof PRECEDENCE)[number]);

function stacked(a: SockFilter[], b: SockFilter[], nr: number, args: bigint[]): number {
  const run = (insns: SockFilter[]) => (insns.length ? evaluate({ archs: ['x86_64'], insns, usesUserNotif: false }, { arch: AUDIT_ARCH.x86_64, nr, args }) : RET.ALLOW);
  const [x, y] = [run(a), run(b)];
  return rank(x) <= rank(y) ? x : y;
}

function expectSameVerdicts(reference: (nr: number, args: bigint[]) => number, listener: SockFilter[], policy: SockFilter[]): void {
  for (let nr = 0; nr < 460; nr++) {
    for (const args of [[0n, 0n, 0n, 0n, 0n, 0n], [1n, 2n, 3n, 4n, 5n, 6n]]) expect([nr, stacked(listener, policy, nr, args)]).toEqual([nr, reference(nr, args)]);
  }
}

describe('stackForListener', () => {
  const source = 'USER_NOTIF { newuname, write(fd, buf, n) { fd == 1 } } ERRNO(13) { openat } KILL { ptrace } DEFAULT ALLOW';

  it('a policy with USER_NOTIF: the pair decides what the policy decides', () => {
    const policy = compilePolicy(source, X86);
    const s = stackForListener(policy, [])!;
    expect(s.policy.some((i) => i.code === 0x06 && rank(i.k) === rank(RET.USER_NOTIF))).toBe(false);
    expectSameVerdicts((nr, args) => evaluate(policy, { arch: AUDIT_ARCH.x86_64, nr, args }), s.listener, s.policy);
  });

  it('seccomp_unotify under a policy: notified where the policy allows, the policy wins where it refuses', () => {
    const policy = compilePolicy(source, X86);
    const unotify = compilePolicy(unotifyPolicySource(['x86_64']), X86);
    const s = stackForListener(policy, [unotify])!;
    const traced = new Set(UNOTIFY_SYSCALLS.map((n) => syscallNumber('x86_64', n)));
    expectSameVerdicts((nr, args) => {
      const own = evaluate(policy, { arch: AUDIT_ARCH.x86_64, nr, args });
      return traced.has(nr) && rank(own) > rank(RET.USER_NOTIF) ? RET.USER_NOTIF : own;
    }, s.listener, s.policy);
    expect(stacked(s.listener, s.policy, syscallNumber('x86_64', 'openat')!, [0n, 0n, 0n, 0n, 0n, 0n])).toBe(RET.ERRNO | 13);
    expect(stacked(s.listener, s.policy, syscallNumber('x86_64', 'connect')!, [0n, 0n, 0n, 0n, 0n, 0n])).toBe(RET.USER_NOTIF);
  });

  it('seccomp_unotify alone: the traced syscalls are notified, nothing else is filtered', () => {
    const unotify = compilePolicy(unotifyPolicySource(['x86_64']), X86);
    const s = stackForListener(null, [unotify])!;
    expect(s.policy).toEqual([]);
    expect(stacked(s.listener, [], syscallNumber('x86_64', 'execve')!, [])).toBe(RET.USER_NOTIF);
    expect(stacked(s.listener, [], syscallNumber('x86_64', 'getppid')!, [])).toBe(RET.ALLOW);
  });

  it('the network watch, chained before a policy: connect and sendto with an address are notified, a policy refusal still wins', () => {
    const watch = compilePolicy(NET_WATCH_POLICY, X86);
    const policy = compilePolicy('ERRNO(1) { connect(fd, addr, len) { fd == 9 } } DEFAULT ALLOW', X86);
    const s = stackForListener(policy, [watch])!;
    const nr = (n: string) => syscallNumber('x86_64', n)!;
    expect(stacked(s.listener, s.policy, nr('connect'), [3n, 0x1000n, 16n, 0n, 0n, 0n])).toBe(RET.USER_NOTIF);
    expect(stacked(s.listener, s.policy, nr('connect'), [9n, 0x1000n, 16n, 0n, 0n, 0n])).toBe(RET.ERRNO | 1);
    expect(stacked(s.listener, s.policy, nr('sendto'), [3n, 0x1000n, 5n, 0n, 0x2000n, 16n])).toBe(RET.USER_NOTIF);
    expect(stacked(s.listener, s.policy, nr('sendto'), [3n, 0x1000n, 5n, 0n, 0n, 0n])).toBe(RET.ALLOW);
    expect(stacked(s.listener, s.policy, nr('write'), [1n, 0n, 0n, 0n, 0n, 0n])).toBe(RET.ALLOW);
  });

  it('nothing notified: no listener', () => {
    expect(stackForListener(compilePolicy('ERRNO(1) { ptrace } DEFAULT ALLOW', X86), [])).toBeNull();
    expect(stackForListener(null, [])).toBeNull();
  });

  it('the list has only names every target architecture knows', () => {
    const both: Filter = compilePolicy(unotifyPolicySource(['x86_64', 'aarch64']), { archs: ['x86_64', 'aarch64'] });
    expect(both.usesUserNotif).toBe(true);
    expect(unotifyPolicySource(['x86_64', 'aarch64'])).not.toMatch(/\bopen\b/);
    expect(unotifyPolicySource(['x86_64'])).toMatch(/\bopen\b/);
  });
});
