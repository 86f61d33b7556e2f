/**
 * `jail serve` over real HTTP on loopback (127.0.0.1, or a unix socket in a temp dir): runs,
 * code + language, files, refusals (bad JSON, unknown fields, a body too large, widening
 * overrides), the concurrency limit and queue (429), a client that disconnects mid-run (its
 * jail is killed), the token, health and OpenAPI, and SIGTERM to the CLI (drains, exits 0).
 * Jailed commands carry a marker in their argv, so whatever a test leaves is found and killed.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { serve, type Server, type ServeOptions } from '../../../src/index';
import { OPENAPI } from '../../../src/serve/openapi';
import { assertBuilt, cli, killSpawned, SYSTEM_PATH, tempDir, waitFor } from '../core/helpers';
import { killWith, marker, processesWith, survivorsWith } from '../modes/helpers';

const servers: Server[] = [];
const markers: string[] = [];
function mark(name: string): string {
  const m = marker(`serve-${name}`);
  markers.push(m);
  return m;
}

async function start(options: ServeOptions = {}): Promise<Server> {
  const s = await serve({ env: { PATH: SYSTEM_PATH }, ...options });
  servers.push(s);
  return s;
}

/** A command that runs until killed, with `m` as its $0 (so its argv shows the marker). */
const forever = (m: string) => ['/bin/sh', '-c', 'while :; do sleep 0.1; done', m];

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

interface Target {
  port?: number | null;
  socketPath?: string;
}

/** One HTTP request with a bounded wait; `body` is sent as JSON unless it is a string. */
function request(to: Target, method: string, urlPath: string, body?: unknown, opts: { headers?: Record<string, string>; onRequest?: (r: http.ClientRequest) => void } = {}): Promise<Reply> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: to.port ?? undefined, socketPath: to.socketPath, method, path: urlPath, headers: { 'content-type': 'application/json', ...opts.headers }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> });
          } catch {
            reject(new Error(`status ${res.statusCode}, not JSON: ${text.slice(0, 500)}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer within 30 s`)));
    req.on('error', reject);
    opts.onRequest?.(req);
    req.end(payload);
  });
}

const runOn = (s: Server, body: unknown, headers?: Record<string, string>) => request({ port: s.port }, 'POST', '/v1/run', body, { headers });

describeAsRoot('jail serve', () => {
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    killSpawned();
    await Promise.all(servers.splice(0).map((s) => s.close(0)));
    for (const m of markers.splice(0)) killWith(m);
  });
  afterAll(() => expect(fs.readdirSync('/tmp').filter((n) => n.startsWith('jail-serve-'))).toEqual([]));

  it('runs a command and returns its report, stdout and stderr; stdin reaches it', async () => {
    const s = await start();
    const r = await runOn(s, { command: ['/bin/sh', '-c', 'cat; echo oops >&2; exit 3'], stdin: 'from stdin\n' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ stdout: 'from stdin\n', stderr: 'oops\n', truncated: false, report: { outcome: 'exited', exitCode: 3 } });
  });

  it('runs python code, with files in the working directory, and removes the run directory after', async () => {
    const s = await start();
    const code = 'import os\nprint(os.getcwd(), open("data/in.txt").read(), sorted(os.listdir(".")))';
    const r = await runOn(s, { code, language: 'python', files: { 'data/in.txt': 'hello', 'b.txt': '' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.stdout).toBe("/tmp/run hello ['b.txt', 'data', 'main.py']\n");
    const w = await runOn(s, { command: ['/bin/sh', '-c', 'echo x > b.txt'], files: { 'b.txt': '' } });
    expect(w.body).toMatchObject({ report: { exitCode: 2 }, stderr: expect.stringMatching(/Read-only file system/) });
    const roots = fs.readdirSync('/tmp').filter((n) => n.startsWith('jail-serve-'));
    expect(roots.flatMap((d) => fs.readdirSync(path.join('/tmp', d)))).toEqual([]);
  });

  it('caps output and says it was truncated; a time limit the request lowers applies', async () => {
    const s = await start({ maxOutputBytes: 1000 });
    const big = await runOn(s, { command: ['/bin/sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" x'] });
    expect(big.body).toMatchObject({ truncated: true, report: { outcome: 'exited' } });
    expect((big.body.stdout as string).length).toBe(1000);
    const m = mark('time');
    const slow = await runOn(s, { command: forever(m), timeLimit: 1 });
    expect(slow.body).toMatchObject({ report: { outcome: 'timeout' } });
  });

  it.each([
    ['bad JSON', '{"command": [', 400, /request body: not JSON/],
    ['an unknown field', { command: ['/bin/true'], network: true }, 400, /^network: unknown field; a run request has command/],
    ['a time limit above the server', { command: ['/bin/true'], config: { time_limit: 11 } }, 400, /config.time_limit: 11 is above the server's limit; give 1..10/],
    ['a mount', { command: ['/bin/true'], config: { mount: [{ src: '/', dst: '/h', is_bind: true, rw: true }] } }, 400, /config.mount: a request may not set this field/],
    ['keep_caps', { command: ['/bin/true'], config: { keep_caps: true } }, 400, /config.keep_caps: a request may not set this field/],
    ['a file path with ..', { command: ['/bin/true'], files: { '../x': '' } }, 400, /files\["..\/x"\]: the segment '..' is refused/],
    ['a missing program', { command: ['no-such-program'] }, 400, /command not found: 'no-such-program'/],
    ['a body over the limit', { command: ['/bin/true'], stdin: 'x'.repeat(3000) }, 413, /request body: larger than 2000 bytes/],
  ])('refuses %s with a JSON error', async (_what, body, status, message) => {
    const s = await start({ maxBodyBytes: 2000 });
    const r = await runOn(s, body);
    expect(r.status).toBe(status);
    expect(r.body.error).toMatch(message);
  });

  it('refuses a streamed body over the limit (no content-length) with 413', async () => {
    const s = await start({ maxBodyBytes: 2000 });
    const r = await request({ port: s.port }, 'POST', '/v1/run', undefined, {
      headers: { 'transfer-encoding': 'chunked' },
      onRequest: (req) => req.write('{"stdin": "' + 'x'.repeat(5000)),
    });
    expect(r.status).toBe(413);
  });

  it('runs at most maxConcurrent jails, queues `queue` more, and answers 429 with Retry-After beyond', async () => {
    const s = await start({ maxConcurrent: 1, queue: 1 });
    const m = mark('busy');
    const first = runOn(s, { command: forever(m), timeLimit: 2 });
    await waitFor(() => processesWith(m).length > 0, 10_000, 'the first run');
    const second = runOn(s, { command: ['/bin/echo', 'second'] });
    await waitFor(() => s.queued === 1, 5000, 'the second run to queue');
    const third = await runOn(s, { command: ['/bin/true'] });
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('1');
    expect(third.body.error).toMatch(/^busy: 1 runs going on and 1 waiting/);
    expect((await first).body).toMatchObject({ report: { outcome: 'timeout' } });
    expect((await second).body).toMatchObject({ stdout: 'second\n' });
  });

  it('kills the jail of a client that disconnects mid-run', async () => {
    const s = await start();
    const m = mark('gone');
    const done = request({ port: s.port }, 'POST', '/v1/run', { command: forever(m) }, {
      onRequest: (req) => void waitFor(() => processesWith(m).length > 0, 10_000, 'the run').then(() => req.destroy()),
    }).catch((e: Error) => e);
    expect(await done).toBeInstanceOf(Error);
    expect(await survivorsWith(m)).toEqual([]);
    await waitFor(() => s.active === 0, 5000, 'the slot to be free');
  });

  it('with a token, refuses requests without it (401) and takes them with it; elsewhere than loopback a token is required', async () => {
    const s = await start({ token: 's3cret' });
    expect((await request({ port: s.port }, 'GET', '/v1/health')).status).toBe(401);
    const wrong = await runOn(s, { command: ['/bin/true'] }, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    expect((await runOn(s, { command: ['/bin/true'] }, { authorization: 'Bearer s3cret' })).status).toBe(200);
    await expect(serve({ host: '0.0.0.0', port: 0 })).rejects.toThrow(/listening on 0.0.0.0 needs a token/);
  });

  it('web pages cannot drive it: a request with an Origin, or a Host that is not the server (DNS rebinding), is refused with 403', async () => {
    const s = await start();
    const marker = mark('origin');
    const fromPage = await runOn(s, { command: ['/bin/sh', '-c', `echo ${marker}`] }, { origin: 'http://evil.example' });
    expect(fromPage.status).toBe(403);
    expect(fromPage.body.error).toMatch(/requests from web pages are refused \(Origin: http:\/\/evil\.example\)/);
    const rebound = await runOn(s, { command: ['/bin/true'] }, { host: `evil.example:${s.port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body.error).toMatch(/is not this server/);
    // Programs name the server as they reached it: the address, or localhost.
    expect((await runOn(s, { command: ['/bin/true'] }, { host: `localhost:${s.port}` })).status).toBe(200);
    expect((await runOn(s, { command: ['/bin/true'] })).status).toBe(200);
  });

  it('serves health and its OpenAPI document; other paths are 404', async () => {
    const s = await start({ maxConcurrent: 3, queue: 5 });
    const h = await request({ port: s.port }, 'GET', '/v1/health');
    expect(h.body).toMatchObject({ status: 'ok', active: 0, queued: 0, maxConcurrent: 3, queue: 5, languages: expect.arrayContaining(['python', 'sh']) });
    expect((await request({ port: s.port }, 'GET', '/v1/openapi.json')).body).toEqual(OPENAPI);
    const nf = await request({ port: s.port }, 'GET', '/v1/nothing');
    expect(nf.status).toBe(404);
    expect(nf.body.error).toMatch(/no endpoint GET \/v1\/nothing; the endpoints are/);
  });

  it('jail serve --socket: the socket is 0600; SIGTERM lets the running jail finish, then exits 0 with no jail left', async () => {
    const tmp = tempDir('jail-it-serve-');
    let child: ChildProcess | undefined;
    let done: Promise<unknown> = Promise.resolve();
    try {
      const sock = path.join(tmp.dir, 'serve.sock');
      let serverLog = '';
      const exited = cli(['serve', '--socket', sock, '--grace', '20'], {
        onSpawn: (c) => {
          child = c;
          c.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
        },
        timeoutMs: 60_000,
      });
      done = exited;
      await waitFor(() => fs.existsSync(sock), 30_000, 'the socket');
      expect(fs.statSync(sock).mode & 0o777).toBe(0o600);
      const m = mark('drain');
      let answer: unknown = null;
      const run = request({ socketPath: sock }, 'POST', '/v1/run', { command: ['/bin/sh', '-c', 'sleep 1; echo finished', m] });
      run.then(
        (r) => (answer = r),
        (e: Error) => (answer = e.message),
      );
      // Should the run never show, say what the server answered and logged.
      await waitFor(() => processesWith(m).length > 0, 30_000, 'the run').catch((e: Error) => {
        throw new Error(`${e.message}; the server answered ${JSON.stringify(answer)} and logged:\n${serverLog}`);
      });
      child!.kill('SIGTERM');
      const r = await run;
      expect(r.body).toMatchObject({ stdout: 'finished\n', report: { outcome: 'exited', exitCode: 0 } });
      const end = await exited;
      expect(end.code, end.stderr).toBe(0);
      expect(end.stderr).toMatch(/received SIGTERM: no more runs/);
      expect(fs.existsSync(sock)).toBe(false);
      expect(await survivorsWith(m)).toEqual([]);
    } finally {
      // A failed test still stops its server the way a user would, so it removes its run root.
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await done;
      tmp.remove();
    }
  });

  it('close() kills runs still going after the grace period', async () => {
    const s = await serve({ env: { PATH: SYSTEM_PATH }, graceMs: 300 });
    const m = mark('grace');
    const run = runOn(s, { command: forever(m) });
    await waitFor(() => processesWith(m).length > 0, 10_000, 'the run');
    const t = Date.now();
    await s.close();
    expect(Date.now() - t).toBeLessThan(5000);
    expect(await survivorsWith(m)).toEqual([]);
    await run.catch(() => {});
  });
});
