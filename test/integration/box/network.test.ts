/**
 * A networked box, in a lab of throw-away namespaces (test/integration/net/lab.ts): `box start`
 * runs in the lab's namespace, so the box's supervisor and its link (pasta) live there. The box
 * reaches a public test host and never a private one; a published port answers on the lab's
 * loopback; `box stop` leaves neither the link nor the box behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JAIL_BIN, SYSTEM_PATH, tempDir } from '../core/helpers';
import { HOSTS } from '../net/lab';
import { labReason, processesWhere, useLab } from '../net/net-helpers';
import { initsOf } from './box-helpers';

const reason = process.getuid!() !== 0 ? 'the lab needs root' : labReason();

/** A TCP connect from inside the box: "ok", or the error's name. */
const CONNECT = `import socket,sys
s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET); s.settimeout(3)
try:
  s.connect((sys.argv[1], int(sys.argv[2]))); print('ok')
except OSError as e:
  print(type(e).__name__)`;

describe.skipIf(reason !== null)('a networked box', () => {
  const { L } = useLab();

  it('reaches the internet but not private ranges, publishes a port, and leaves nothing at stop', async () => {
    const tmp = tempDir('jail-box-net-');
    const env = { PATH: SYSTEM_PATH, HOME: tmp.dir, JAIL_STATE_DIR: path.join(tmp.dir, 'state') };
    const jail = (args: string[]) => L().run([process.execPath, JAIL_BIN, ...args], { env, timeoutMs: 30_000 });
    try {
      expect((await jail(['box', 'create', 'web', '--net', 'internet', '--publish', '127.0.0.1:18080:8000', '--uid', '1000'])).code).toBe(0);
      const started = await jail(['box', 'start', 'web']);
      expect(started.code, started.stderr).toBe(0);
      const connect = async (host: string, port: number) => (await jail(['box', 'exec', 'web', '--', 'python3', '-c', CONNECT, host, String(port)])).stdout.trim();
      expect(await connect(HOSTS.public4, 80)).toBe('ok');
      for (const host of [HOSTS.private10, HOSTS.metadata, HOSTS.private192]) expect(await connect(host, 80), host).toMatch(/^(OSError|ConnectionRefusedError|TimeoutError)$/);

      // A server in the box answers on the host side's loopback (the lab's).
      const server = L().spawn([process.execPath, JAIL_BIN, 'box', 'exec', 'web', '--', 'python3', '-c', 'import http.server as h; h.HTTPServer(("0.0.0.0", 8000), h.SimpleHTTPRequestHandler).handle_request()'], { env });
      let answer = '';
      for (let i = 0; i < 50 && !answer.includes('200'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        answer = (await L().run(['python3', '-c', 'import urllib.request as u; print(u.urlopen("http://127.0.0.1:18080/", timeout=2).status)'], { env, timeoutMs: 5000 })).stdout;
      }
      expect(answer.trim()).toBe('200');
      await server.exited;

      const pastas = () => processesWhere((argv) => argv.some((a) => a.endsWith('pasta') || a.endsWith('pasta.avx2')) && argv.some((a) => a.includes('--netns')));
      expect(pastas().length).toBeGreaterThan(0);
      expect((await jail(['box', 'stop', 'web'])).code).toBe(0);
      expect(initsOf(env.JAIL_STATE_DIR)).toEqual([]);
      for (let i = 0; i < 50 && pastas().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(pastas()).toEqual([]);
    } finally {
      await jail(['box', 'rm', '--force', 'web']);
      tmp.remove();
    }
    expect(fs.existsSync(tmp.dir)).toBe(false);
  });
});
