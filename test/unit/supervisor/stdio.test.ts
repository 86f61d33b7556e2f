/**
 * openStdio() with the fake addon, whose pipe() hands out real pipes (FIFOs): what each option
 * gives the jail as fds 0-2, what the caller gets as streams, the capture cap, and cleanup.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JailError } from '../../../src/errors';
import { openStdio } from '../../../src/supervisor/stdio';
import { FakeAddon } from '../../helpers/fake-addon';
import { until } from './helpers';

const isOpen = (fd: number) => {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

/** Reads what is in a non-blocking pipe now (up to 64 KiB). */
function readNow(fd: number): string {
  const buf = Buffer.alloc(65536);
  try {
    return buf.subarray(0, fs.readSync(fd, buf)).toString();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return '';
    throw e;
  }
}

describe('openStdio', () => {
  it("'ignore' is /dev/null (-1) for every stream, and opens nothing", () => {
    const fake = new FakeAddon();
    const s = openStdio(fake, { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', maxOutputBytes: 10 });
    expect(s.fds).toEqual([-1, -1, -1]);
    expect(fake.callsOf('pipe')).toEqual([]);
    expect([s.stdin, s.stdout, s.stderr]).toEqual([null, null, null]);
  });

  it("'inherit' passes 0, 1, 2 and numbers pass through", () => {
    const fake = new FakeAddon();
    expect(openStdio(fake, { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit', maxOutputBytes: 0 }).fds).toEqual([0, 1, 2]);
    expect(openStdio(fake, { stdin: 7, stdout: 8, stderr: 9, maxOutputBytes: 0 }).fds).toEqual([7, 8, 9]);
    expect(fake.callsOf('pipe')).toEqual([]);
  });

  it('a string or bytes for stdin are written to a pipe and the pipe is closed', async () => {
    for (const input of ['some input\n', new Uint8Array([104, 105])]) {
      const fake = new FakeAddon();
      const s = openStdio(fake, { stdin: input, stdout: 'ignore', stderr: 'ignore', maxOutputBytes: 0 });
      expect(fake.callsOf('pipe')).toHaveLength(1);
      const r = s.fds[0];
      let got = '';
      await until(() => (got += readNow(r)).length >= (typeof input === 'string' ? input.length : 2), 'the input to arrive');
      expect(got).toBe(typeof input === 'string' ? input : 'hi');
      s.closeChildEnds();
      expect(isOpen(r)).toBe(false);
      s.destroy();
    }
  });

  it("'pipe' gives the caller streams; the jail's ends close once, through the addon", async () => {
    const fake = new FakeAddon();
    const s = openStdio(fake, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', maxOutputBytes: 0 });
    expect(s.stdin).not.toBeNull();
    expect(s.stdout).not.toBeNull();
    expect(s.stderr).not.toBeNull();
    fs.writeSync(s.fds[1], 'out');
    const chunks: string[] = [];
    s.stdout!.on('data', (c: Buffer) => chunks.push(c.toString()));
    await until(() => chunks.join('') === 'out', 'piped stdout');
    s.closeChildEnds();
    s.closeChildEnds();
    const closed = fake.callsOf('close').map(([fd]) => fd);
    expect(closed.sort()).toEqual([...s.fds].sort());
    expect(fake.badCloses).toEqual([]);
    s.destroy();
    expect(fake.badCloses).toEqual([]);
  });

  it('capture keeps the first maxOutputBytes and says truncated; the rest is read and dropped', async () => {
    const fake = new FakeAddon();
    const s = openStdio(fake, { stdin: 'ignore', stdout: 'capture', stderr: 'capture', maxOutputBytes: 10 });
    fs.writeSync(s.fds[1], '0123456789');
    fs.writeSync(s.fds[2], '0123456789abcdef');
    s.closeChildEnds();
    const out = await s.finish(5000);
    expect(out.stdout).toEqual({ data: Buffer.from('0123456789'), truncated: false });
    expect(out.stderr).toEqual({ data: Buffer.from('0123456789'), truncated: true });
  });

  it('capture gives up after the grace period when a leftover holds the pipe open', async () => {
    const fake = new FakeAddon();
    const s = openStdio(fake, { stdin: 'ignore', stdout: 'capture', stderr: 'ignore', maxOutputBytes: 100 });
    // A second holder of the write end, like a daemonised process in a jail without a PID ns.
    const leftover = fs.openSync(`/proc/self/fd/${s.fds[1]}`, 'w');
    fs.writeSync(leftover, 'partial');
    s.closeChildEnds();
    await until(() => true, 'a turn');
    const out = await s.finish(50);
    expect(out.stdout!.data.toString()).toBe('partial');
    fs.closeSync(leftover);
  });

  it('a bad option is a usage error, and the pipes made before it are released', async () => {
    const fake = new FakeAddon();
    let err: unknown;
    try {
      openStdio(fake, { stdin: 'pipe', stdout: 'capture', stderr: 'bogus' as never, maxOutputBytes: 0 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JailError);
    expect((err as JailError).code).toBe('usage');
    expect((err as JailError).message).toBe("stderr: expected 'inherit', 'ignore', 'pipe', 'capture' or an fd, got bogus");
    // The jail's ends went back through close(); the caller's ends were owned by sockets, destroyed.
    expect(fake.callsOf('close')).toHaveLength(2);
    const ours = fake.openRealFds();
    await until(() => ours.every((fd) => !isOpen(fd)), 'the sockets to close their fds');
  });
});
