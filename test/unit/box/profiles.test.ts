import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JailError, formatError } from '../../../src/errors';
import { parseSettings, resolveProfile, settingsFiles } from '../../../src/box/profiles';
import { encodeRequest } from '../../../src/box/exec';
import { checkName } from '../../../src/box/state-dir';

function thrown(fn: () => unknown): JailError {
  try {
    fn();
  } catch (e) {
    return e as JailError;
  }
  throw new Error('did not throw');
}

describe('box settings files', () => {
  const text = JSON.stringify(
    {
      image: 'py',
      network: 'limited',
      resources: { memory: '2G', cpus: 2, pids: 256 },
      mounts: { workspace_writable: true, persist_caches: ['pip', 'npm'] },
      keep_alive: { idle_seconds: 600 },
      protect: { read_only: ['.git/hooks'], hidden: ['.env'] },
      profiles: { code: { network: 'full', resources: { memory: '4G' } }, explore: { mounts: { workspace_writable: false } } },
    },
    null,
    2,
  );

  it('reads the agent-sandbox shape, defaults then a profile over them', () => {
    const f = parseSettings('jail.json', text);
    expect(resolveProfile([f], null)).toEqual({
      image: 'py',
      network: 'limited',
      memoryBytes: 2 * 2 ** 30,
      cpus: 2,
      pids: 256,
      workspaceWritable: true,
      persistCaches: ['pip', 'npm'],
      idleSeconds: 600,
      readOnly: ['.git/hooks'],
      hidden: ['.env'],
    });
    expect(resolveProfile([f], 'code')).toMatchObject({ network: 'full', memoryBytes: 4 * 2 ** 30, cpus: 2 });
    expect(resolveProfile([f], 'explore')).toMatchObject({ workspaceWritable: false, network: 'limited' });
  });

  it('later files override earlier ones (the project over the user)', () => {
    const user = parseSettings('user.json', '{ "network": "none", "resources": { "pids": 10 } }');
    const project = parseSettings('jail.json', '{ "network": "internet" }');
    expect(resolveProfile([user, project], null)).toEqual({ network: 'internet', pids: 10 });
  });

  it('keep_alive true means up until stopped', () => {
    expect(resolveProfile([parseSettings('j', '{"keep_alive": true}')], null)).toEqual({ idleSeconds: 0 });
  });

  it.each([
    ['{ "netwrk": "none" }', 'j.json:1:3', "unknown field 'netwrk' in j.json", 'accepted: image, network'],
    ['{\n "network": "lan" }', 'j.json:2:13', "network 'lan' is not one of none, limited, internet, full, host", '"full" is the same as "internet"'],
    ['{ "resources": { "memory": "lots" } }', 'j.json:1:28', "resources.memory: invalid size 'lots'", 'e.g. "2G"'],
    ['{ "resources": { "pids": 1.5 } }', 'j.json:1:18', 'resources.pids is 1.5, not a positive whole number', 'e.g. 256'],
    ['{ "mounts": { "persist_caches": ["maven"] } }', 'j.json:1:15', "'maven' is not a cache jail knows", 'accepted: pip'],
    ['{ "protect": { "hidden": ["../.ssh"] } }', 'j.json:1:16', "protect: '../.ssh' is not a path inside the workspace", "without '..'"],
    ['{ "profiles": { "a": { "profiles": {} } } }', 'j.json:1:24', "unknown field 'profiles' in profile 'a'", 'accepted:'],
    ['{ "image": 3 }', 'j.json:1:12', 'image must be a string', '"..."'],
    ['{ "image": "a", }', 'j.json:1', '', ''],
  ])('%s is refused at file:line:col with what is accepted', (src, where, message, hint) => {
    const e = thrown(() => parseSettings('j.json', src));
    expect(e).toBeInstanceOf(JailError);
    const text = formatError(e);
    expect(text).toContain(where);
    expect(text).toContain(message);
    expect(text).toContain(hint);
  });

  it('an unknown profile names the known ones', () => {
    const e = thrown(() => resolveProfile([parseSettings('j.json', text)], 'review'));
    expect(e.message).toBe("no profile 'review' in j.json");
    expect(e.hint).toBe('known profiles: code, explore');
  });

  it('finds ~/.config/jail/jail.json and the project\'s jail.json, user first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jail-settings-'));
    try {
      fs.mkdirSync(path.join(dir, 'config', 'jail'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'config', 'jail', 'jail.json'), '{"network": "none"}');
      fs.mkdirSync(path.join(dir, 'project'));
      fs.writeFileSync(path.join(dir, 'project', 'jail.json'), '{"network": "limited"}');
      const files = settingsFiles(path.join(dir, 'project'), { XDG_CONFIG_HOME: path.join(dir, 'config') });
      expect(files.map((f) => f.file)).toEqual([path.join(dir, 'config', 'jail', 'jail.json'), path.join(dir, 'project', 'jail.json')]);
      expect(resolveProfile(files, null).network).toBe('limited');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('box exec requests', () => {
  it('encodes flags, cwd, argv and env as box_init reads them', () => {
    const buf = encodeRequest(['sh', '-c', 'x'], { A: '1' }, '/w', true);
    expect(buf.subarray(0, 4).toString()).toBe('JBX1');
    expect(buf.readUInt32LE(4)).toBe(buf.length - 8);
    expect(buf.readUInt32LE(8)).toBe(1);
    expect(buf.subarray(12).toString('latin1')).toBe('/w\0\x03\0\0\0sh\0-c\0x\0\x01\0\0\0A=1\0');
  });

  it('refuses a NUL byte instead of cutting the argument short', () => {
    expect(() => encodeRequest(['a\0b'], {}, '/', false)).toThrow(/contains a NUL byte/);
  });
});

describe('box names', () => {
  it.each(['a', 'agent-1', 'my.box_2'])('accepts %s', (n) => expect(checkName('box', n)).toBe(n));
  it.each(['', 'A', '-x', '../x', 'a/b', 'a..b', 'x'.repeat(64)])('refuses %j', (n) => {
    expect(() => checkName('box', n)).toThrow(/is not a valid box name/);
  });
});
