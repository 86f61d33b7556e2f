/** Every file in policies/ runs a real program in the kernel (no root: no_new_privs). */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { compilePolicyFile } from '../../../src/policy';
import { buildHelpers, writeFilter } from './build';

const POLICIES = join(__dirname, '..', '..', '..', 'policies');
const helpers = buildHelpers();

function runUnder(policy: string, argv: string[]) {
  const filter = writeFilter(join(helpers.dir, `${policy}.bin`), compilePolicyFile(join(POLICIES, policy)));
  const r = spawnSync(helpers.replay, ['exec', filter, ...argv], { timeout: 30_000 });
  return { status: r.status, signal: r.signal, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe('policies/', () => {
  it('python-allowlist.policy runs python3 -c and a static binary, and kills anything else', () => {
    expect(runUnder('python-allowlist.policy', ['/usr/bin/python3', '-c', 'print(6 * 7)'])).toMatchObject({ status: 0, out: '42\n' });
    expect(runUnder('python-allowlist.policy', [helpers.probe, 'hello'])).toMatchObject({ status: 0, out: 'hello\n' });
    const sock = runUnder('python-allowlist.policy', ['/usr/bin/python3', '-c', 'import socket; socket.socket()']);
    expect(sock.signal).toBe('SIGSYS');
  });

  it('no-network.policy refuses inet sockets with EACCES and allows Unix sockets', () => {
    const script = [
      'import socket, errno',
      'try:\n socket.socket(socket.AF_INET, socket.SOCK_STREAM)\nexcept OSError as e:\n print("inet", errno.errorcode[e.errno])',
      'a, b = socket.socketpair(); a.send(b"x"); print("unix", b.recv(1).decode())',
      's = socket.socket(socket.AF_UNIX); print("af_unix ok")',
    ].join('\n');
    expect(runUnder('no-network.policy', ['/usr/bin/python3', '-c', script])).toMatchObject({
      status: 0,
      out: 'inet EACCES\nunix x\naf_unix ok\n',
    });
  });

  it('default-deny.policy refuses the dangerous calls and leaves ordinary ones alone', () => {
    const r = runUnder('default-deny.policy', [helpers.probe, 'deny']);
    expect(r.status).toBe(0);
    expect(r.out).toBe('unshare=1\nptrace=1\nclone3=38\nclone_newnet=1\ntiocsti=1\npersonality=1\nfork=7\n');
    expect(runUnder('default-deny.policy', ['/usr/bin/python3', '-c', 'print("ok")'])).toMatchObject({ status: 0, out: 'ok\n' });
  });
});
