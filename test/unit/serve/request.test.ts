/**
 * Request validation of `jail serve` (src/serve/request.ts): what a run request may say, and the
 * rule that a request can only narrow the server's config. Also the token rule and the OpenAPI
 * document that docs/serve.md shows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../../src/config/load';
import { LANGUAGES } from '../../../src/serve/languages';
import { OPENAPI } from '../../../src/serve/openapi';
import { checkFilePath, parseRunRequest, RequestError, type RequestLimits } from '../../../src/serve/request';
import { isLoopback } from '../../../src/serve/server';

const base = configFromObject({ time_limit: 10, rlimit_as: 512, cgroup_pids_max: 50 }).config;
const limits: RequestLimits = {
  base,
  languages: new Map([['python', LANGUAGES.python]]),
  maxFiles: 3,
  envAllow: new Set(['SEED']),
  maxOutputBytes: 1000,
};
const parse = (body: unknown) => parseRunRequest(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), limits);

/** The refusal's status and message. */
function refusal(body: unknown): { status: number; message: string } {
  try {
    parse(body);
  } catch (e) {
    if (e instanceof RequestError) return { status: e.status, message: e.message };
    throw e;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

describe('run requests', () => {
  it('takes a command, stdin and files, with the server caps as defaults', () => {
    const r = parse({ command: ['/bin/cat', 'a'], stdin: 'x', files: { a: '1', 'd/b': '2' } });
    expect(r).toEqual({ command: ['/bin/cat', 'a'], files: [['a', '1'], ['d/b', '2']], stdin: 'x', narrowed: {}, maxOutputBytes: 1000 });
  });

  it('turns code + language into the interpreter on a file in the run directory', () => {
    const r = parse({ code: 'print(1)', language: 'python' });
    expect(r.command).toEqual(['python3', 'main.py']);
    expect(r.files).toEqual([['main.py', 'print(1)']]);
  });

  it.each([
    ['not JSON', '{bad', /request body: not JSON .*send a JSON object/],
    ['not an object', '[1]', /request body: expected a JSON object .* got \[1\]/],
    ['an unknown field', { command: ['x'], mounts: [] }, /^mounts: unknown field; a run request has command, code/],
    ['no command', {}, /^command: expected a non-empty array of strings/],
    ['an empty command', { command: [] }, /^command: expected a non-empty array/],
    ['a non-string argument', { command: ['a', 1] }, /^command\[1\]: expected a string, got 1/],
    ['a NUL in an argument', { command: ['a\0b'] }, /^command\[0\]: contains a NUL/],
    ['command and code', { command: ['a'], code: 'x', language: 'python' }, /either command or code \+ language/],
    ['an unknown language', { code: 'x', language: 'cobol' }, /^language: "cobol" is not available on this server; give one of python/],
    ['code without a language', { code: 'x' }, /^language: null is not available/],
    ['too many files', { command: ['a'], files: { a: '', b: '', c: '', d: '' } }, /^files: 4 files; the server takes at most 3/],
    ['a file that is not text', { command: ['a'], files: { a: 1 } }, /^files\["a"\]: expected a string, got 1/],
    ['a file named as the code', { code: 'x', language: 'python', files: { 'main.py': '' } }, /main.py"\]: this name holds the code/],
    ['maxOutputBytes above the server cap', { command: ['a'], maxOutputBytes: 1001 }, /^maxOutputBytes: 1001 is refused; give a whole number from 0 to 1000/],
  ])('refuses %s with 400 and a message', (_what, body, message) => {
    const r = refusal(body);
    expect(r.status).toBe(400);
    expect(r.message).toMatch(message);
  });

  it.each(['/etc/passwd', '../x', 'a/../../x', 'a/./b', 'a//b', '', 'a\0b', 'x'.repeat(256)])('refuses the file path %j', (p) => {
    expect(() => checkFilePath(p)).toThrow(RequestError);
  });

  it.each(['a', 'a.txt', 'dir/sub/file.py', '..hidden', 'x'.repeat(255)])('accepts the file path %j', (p) => {
    expect(checkFilePath(p)).toBe(p);
  });
});

describe('config overrides only narrow', () => {
  it('lowers the time limit, rlimits and cgroup limits, and adds allowed variables', () => {
    const r = parse({ command: ['a'], timeLimit: 2, config: { rlimit_as: 100, cgroupPidsMax: 5, cgroup_mem_max: 1 << 26, envar: ['SEED=1'] } });
    expect(r.narrowed).toEqual({ timeLimit: 2, rlimitAs: 100, rlimitAsType: 'VALUE', cgroupPidsMax: 5, cgroupMemMax: 1 << 26, envar: ['SEED=1'] });
  });

  it.each([
    ['a time limit above the server', { timeLimit: 11 }, /^config.time_limit: 11 is above the server's limit; give 1..10 seconds/],
    ['no time limit', { config: { time_limit: 0 } }, /^config.time_limit: 0 is above the server's limit/],
    ['both timeLimit and time_limit', { timeLimit: 1, config: { time_limit: 1 } }, /given both/],
    ['an rlimit above the server', { config: { rlimit_as: 513 } }, /^config.rlimit_as: 513 is above the server's limit; give at most 512/],
    ['an rlimit the server takes from its caller', { config: { rlimit_nproc: 5 } }, /^config.rlimit_nproc: the server's rlimit_nproc is the caller's soft limit/],
    ['a cgroup limit above the server', { config: { cgroup_pids_max: 51 } }, /^config.cgroup_pids_max: 51 is above the server's limit \(0 means none\); give 1..50/],
    ['turning a cgroup limit off', { config: { cgroup_pids_max: 0 } }, /^config.cgroup_pids_max: 0 is above/],
    ['a variable the server does not allow', { config: { envar: ['LD_PRELOAD=/x'] } }, /^config.envar: 'LD_PRELOAD' may not be set by a request; the server allows SEED/],
    ["copying the server's variable", { config: { envar: ['SEED'] } }, /^config.envar: 'SEED' has no value; give NAME=value/],
    ['a mount', { config: { mount: [{ src: '/', dst: '/host', is_bind: true, rw: true }] } }, /^config.mount: a request may not set this field/],
    ['keep_caps', { config: { keep_caps: true } }, /^config.keep_caps: a request may not set this field/],
    ['a capability', { config: { cap: ['CAP_SYS_ADMIN'] } }, /^config.cap: a request may not set/],
    ['the network', { config: { clone_newnet: false } }, /^config.clone_newnet: a request may not set/],
    ['no user namespace', { config: { cloneNewuser: false } }, /^config.cloneNewuser: a request may not set/],
    ['another seccomp policy', { config: { seccomp_string: ['ALLOW { } DEFAULT ALLOW'] } }, /^config.seccomp_string: a request may not set/],
    ['an rlimit type', { config: { rlimit_as_type: 'INF' } }, /^config.rlimit_as_type: a request may not set/],
    ['a value of the wrong type', { config: { time_limit: 'soon' } }, /time_limit/],
    ['config that is not an object', { config: [1] }, /^config: expected an object of config fields/],
  ])('refuses %s', (_what, extra, message) => {
    const r = refusal({ command: ['a'], ...extra });
    expect(r.status).toBe(400);
    expect(r.message).toMatch(message);
  });

  it('takes any positive time limit from a server without one', () => {
    const open = { ...limits, base: { ...base, timeLimit: 0 } };
    expect(parseRunRequest(Buffer.from('{"command":["a"],"timeLimit":1000}'), open).narrowed).toEqual({ timeLimit: 1000 });
  });
});

describe('server rules', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.2', false],
  ])('%s is loopback: %s (elsewhere a token is required)', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it('docs/serve.md shows the OpenAPI document the server serves', () => {
    const doc = fs.readFileSync(path.join(__dirname, '../../../docs/serve.md'), 'utf8');
    const block = /```json openapi\n([\s\S]*?)\n```/.exec(doc);
    expect(block, 'a ```json openapi block in docs/serve.md').not.toBeNull();
    expect(JSON.parse(block![1])).toEqual(OPENAPI);
  });
});
