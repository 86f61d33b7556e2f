#!/usr/bin/env node
// `jail serve` through its HTTP API (issue 11), the server in its own process (`jail serve -q`)
// and keep-alive clients here:
//   - throughput of /bin/true with CLIENTS concurrent clients, and the latency they see
//   - one client at a time: /bin/true, and python3 -c 'print(1)' through the API vs spawned bare
// Targets: >= 300 runs/s of /bin/true on a 2-core machine, p50 <= 10 ms, python at <= 2x bare.
//
// Usage: npm run build && node bench/serve.mjs [--runs N] [--clients C]   (root, or user namespaces enabled)
import { spawn, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
const RUNS = arg('--runs', 2000);
const CLIENTS = arg('--clients', 4);
const SEQUENTIAL = 200;
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `p50 ${at(0.5).toFixed(2)} ms, p90 ${at(0.9).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms (n=${s.length})`;
};
const median = (samples) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const server = spawn(process.execPath, [join(root, 'bin/jail'), 'serve', '-q', '--listen', `127.0.0.1:${port}`, '--queue', '1000'], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { PATH },
});
const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });

function post(body) {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/run', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const r = JSON.parse(Buffer.concat(chunks).toString());
        if (res.statusCode !== 200 || r.report.outcome !== 'exited' || r.report.exitCode !== 0) reject(new Error(`${res.statusCode}: ${JSON.stringify(r).slice(0, 300)}`));
        else resolve(r);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function timed(body) {
  const t = process.hrtime.bigint();
  await post(body);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

try {
  for (let i = 0; ; i++) {
    try {
      await post({ command: ['/bin/true'] });
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const TRUE = { command: ['/bin/true'] };
  for (let i = 0; i < 50; i++) await post(TRUE); // warm up

  const seq = [];
  for (let i = 0; i < SEQUENTIAL; i++) seq.push(await timed(TRUE));
  console.log(`/bin/true, one client:          ${stats(seq)}`);

  const latencies = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next++ < RUNS) latencies.push(await timed(TRUE));
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`/bin/true, ${CLIENTS} clients:         ${(RUNS / secs).toFixed(0)} runs/s; ${stats(latencies)}`);

  const PY = ['python3', '-c', 'print(1)'];
  const api = [];
  for (let i = 0; i < 50; i++) api.push(await timed({ command: PY }));
  const code = [];
  for (let i = 0; i < 50; i++) code.push(await timed({ code: 'print(1)', language: 'python' }));
  const bare = [];
  for (let i = 0; i < 50; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/python3', ['-c', 'print(1)'], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`python3 exited ${r.status}`);
    bare.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  console.log(`python3 -c 'print(1)', bare:    median ${median(bare).toFixed(2)} ms`);
  console.log(`  through the API (command):    median ${median(api).toFixed(2)} ms (${(median(api) / median(bare)).toFixed(2)}x bare)`);
  console.log(`  through the API (code+lang):  median ${median(code).toFixed(2)} ms (${(median(code) / median(bare)).toFixed(2)}x bare)`);
} finally {
  agent.destroy();
  server.kill('SIGTERM');
}
