/**
 * supervise() with a seccomp listener, against the recording fake addon: the listener is watched
 * during the launch, each notification becomes an event and a count in the report, and the
 * listener is let go exactly once, also when the setup fails.
 */
import { describe, expect, it } from 'vitest';
import '../../helpers/lazy-require';
import { compilePolicy } from '../../../src/policy';
import type { JailEvent } from '../../../src/supervisor/events';
import { supervise } from '../../../src/supervisor/supervise';
import { FakeAddon } from '../../helpers/fake-addon';
import { logSink, planned, recordingStdio } from './helpers';

const X86_64 = 0xc000003e;
const uname = { pid: 42, nr: 63, arch: X86_64, args: [1n, 0xffffffffffffff9cn, 0n, 0n, 0n, 0n] };
const policy = () => compilePolicy('USER_NOTIF { newuname } DEFAULT ALLOW', { archs: ['x86_64'] });

async function superviseNotified(fake: FakeAddon, onEvent?: (e: JailEvent) => void) {
  const sink = logSink();
  const result = await supervise(fake, planned(['--chroot', '/', '--', '/bin/true'], {}, policy()), { timeLimit: 0, stdio: recordingStdio(), log: sink.log, onEvent });
  return { result, sink };
}

function expectListenerReleased(fake: FakeAddon): void {
  const [[fd]] = fake.callsOf('watchNotifications');
  expect(fake.callsOf('unwatchNotifications')).toEqual([[fd]]);
  expect(fake.openFakeFds()).toEqual([]);
}

describe('seccomp notifications', () => {
  it('each notification is an event, and the report counts them by syscall', async () => {
    const fake = new FakeAddon().script({ notifications: [uname, uname, { ...uname, nr: 999 }] });
    const events: JailEvent[] = [];
    const { result } = await superviseNotified(fake, (e) => events.push(e));
    expect(events[0]).toEqual({ type: 'syscall', name: 'newuname', nr: 63, arch: 'x86_64', args: ['0x1', '0xffffffffffffff9c', '0x0', '0x0', '0x0', '0x0'], pid: 42, action: 'continue' });
    expect(events.map((e) => (e.type === 'syscall' ? e.name : e.type))).toEqual(['newuname', 'newuname', null]);
    expect(result.report.notifications).toEqual({ total: 3, bySyscall: { newuname: 2, '#999': 1 } });
    expectListenerReleased(fake);
  });

  it('a plan without a listener launches without one and reports no notifications', async () => {
    const fake = new FakeAddon();
    const result = await supervise(fake, planned(['--chroot', '/', '--', '/bin/true']), { timeLimit: 0, stdio: recordingStdio(), log: logSink().log });
    expect(fake.calls.find((c) => c.fn === 'launch')).toBeDefined();
    expect(fake.callsOf('watchNotifications')).toEqual([]);
    expect(result.report.notifications).toBeUndefined();
  });

  it('an onEvent that throws is logged; the jail and the count go on', async () => {
    const fake = new FakeAddon().script({ notifications: [uname] });
    const { result, sink } = await superviseNotified(fake, () => {
      throw new Error('disk full');
    });
    expect(sink.text()).toContain('error: onEvent failed: disk full');
    expect(result.report).toMatchObject({ outcome: 'exited', notifications: { total: 1 } });
    expectListenerReleased(fake);
  });

  it('a setup that fails after the handshake still lets the listener go', async () => {
    const fake = new FakeAddon().script({ fail: { stage: 'execve', opIndex: -1, errno: 2 } });
    const { result } = await superviseNotified(fake);
    expect(result.report.outcome).toBe('setup-failed');
    expect(fake.openFakeFds()).toEqual([]);
  });
});
